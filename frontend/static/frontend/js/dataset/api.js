// JSON over fetch for the dataset page: every call answers {ok, status, data} and never throws,
// so a section can say what went wrong instead of breaking the page.

export function csrfToken() {
  const cookie = document.cookie.split("; ").find((c) => c.startsWith("csrftoken="));
  if (cookie) return decodeURIComponent(cookie.slice("csrftoken=".length));
  const root = document.querySelector("[data-csrf]");
  return root ? root.dataset.csrf : "";
}

// DRF answers {"detail": "..."} or {"field": ["message", ...], ...}: one line either way.
export function errorText(status, data) {
  if (data && typeof data.detail === "string") return data.detail;
  if (data && typeof data === "object" && Object.keys(data).length) {
    return Object.entries(data)
      .filter(([key]) => key !== "action")
      .map(([key, value]) => `${key}: ${Array.isArray(value) ? value.join(" ") : JSON.stringify(value)}`)
      .join("; ");
  }
  return `the server answered ${status}`;
}

async function call(url, options) {
  try {
    const response = await fetch(url, { credentials: "same-origin", ...options });
    const text = await response.text();
    let data = null;
    try {
      data = text ? JSON.parse(text) : null;
    } catch {
      data = { detail: `the server answered ${response.status} (not JSON)` };
    }
    return { ok: response.ok, status: response.status, data };
  } catch (error) {
    return { ok: false, status: 0, data: { detail: `the server could not be reached (${error.message})` } };
  }
}

export function getJSON(url) {
  return call(url, { headers: { Accept: "application/json" } });
}

export function postJSON(url, body) {
  return call(url, {
    method: "POST",
    headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRFToken": csrfToken() },
    body: JSON.stringify(body || {}),
  });
}

export function postForm(url, formData) {
  return call(url, {
    method: "POST",
    headers: { Accept: "application/json", "X-CSRFToken": csrfToken() },
    body: formData,
  });
}
