// The home page's "New dataset" form: POST /api/v1/datasets/, then open the new dataset's page.
import { errorText } from "./api.js";

const form = document.getElementById("new-dataset");
const message = document.getElementById("new-dataset-message");

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const slug = form.elements.slug.value.trim();
  const name = form.elements.name.value.trim();
  const body = {
    slug,
    ...(name ? { name } : {}), // the API names the dataset after its slug when no name is given
    taxonomy: form.elements.taxonomy.value || null,
    open_world_topics: form.elements.open_world_topics.checked,
  };
  const button = document.getElementById("new-dataset-create");
  button.disabled = true;
  message.className = "";
  message.textContent = "Creating…";
  try {
    const response = await fetch(form.dataset.api, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": form.dataset.csrf },
      body: JSON.stringify(body),
    });
    const data = await response.json().catch(() => ({}));
    if (!response.ok) {
      message.className = "error";
      message.textContent = errorText(response.status, data);
      return;
    }
    window.location.assign(form.dataset.page.replace("SLUG", encodeURIComponent(data.slug || slug)));
  } catch (error) {
    message.className = "error";
    message.textContent = `The server could not be reached: ${error.message}`;
  } finally {
    button.disabled = false;
  }
});
