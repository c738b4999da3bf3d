// Small pieces the dataset page's sections share: empty messages, stat lines, video links, the
// top-N pager, and confirm-in-place buttons that survive a refresh.
import { el } from "../charts_core.js";

export { el };

export function empty(text, key = null) {
  return el("p", { class: "empty", dataset: key ? { empty: key } : {} }, text);
}

export function stats(pairs) {
  return el(
    "dl",
    { class: "stats" },
    pairs.filter(Boolean).map(([label, value]) => el("div", {}, el("dt", {}, label), el("dd", {}, value))),
  );
}

export function videoLink(id, text) {
  return el("a", { href: `/videos/${encodeURIComponent(id)}/frames/` }, text || `video ${id}`);
}

export function minutes(value) {
  if (value === null || value === undefined) return "unknown";
  if (value < 1) return "under a minute";
  if (value < 90) return `about ${Math.round(value)} min`;
  return `about ${(value / 60).toFixed(1)} h`;
}

export function when(iso) {
  if (!iso) return "—";
  return new Date(iso).toLocaleString("en-GB", { day: "numeric", month: "short", hour: "2-digit", minute: "2-digit", second: "2-digit" });
}

// Top N with a way to the rest: "Show all" (when the API can send them in one page), previous /
// next page, back to the top N. `state` is {limit, offset}; `reload` fetches again.
export const TOP_N = 20;
export const API_MAX_LIMIT = 1000;

export function pager(name, noun, page, state, reload) {
  const { total, offset, rows } = page;
  if (total <= TOP_N && state.limit === TOP_N) return null;
  const shown = rows.length ? `${offset + 1}–${offset + rows.length}` : "none";
  const button = (id, text, change, disabled = false) =>
    el("button", { type: "button", id: `${name}-${id}`, dataset: { key: `${name}-${id}` }, disabled }, text);
  const controls = [];
  const add = (id, text, change, disabled) => {
    const b = button(id, text, change, disabled);
    b.addEventListener("click", () => {
      Object.assign(state, change);
      reload();
    });
    controls.push(b);
  };
  add("prev", `Previous ${state.limit}`, { offset: Math.max(0, offset - state.limit) }, offset === 0);
  add("next", `Next ${state.limit}`, { offset: offset + state.limit }, offset + rows.length >= total);
  if (total <= API_MAX_LIMIT && state.limit < total) add("show-all", `Show all ${total}`, { limit: API_MAX_LIMIT, offset: 0 });
  if (state.limit !== TOP_N || offset) add("top", `Show top ${TOP_N}`, { limit: TOP_N, offset: 0 });
  return el("div", { class: "pager", dataset: { pager: name } }, el("span", {}, `Showing ${shown} of ${total} ${noun}`), ...controls);
}

// A button that asks first: the first click arms it ("Confirm: …"), a second within a few
// seconds acts. Armed state lives in `armed` (by data-key) so a refresh does not lose it.
const ARM_MS = 8000;
export function confirmButton({ key, text, confirmText, armed, onConfirm, kind = null }) {
  const button = el("button", { type: "button", class: "confirm-button", dataset: { key, ...(kind ? { actionKind: kind } : {}) } }, text);
  const set = (on) => {
    button.textContent = on ? confirmText : text;
    button.classList.toggle("armed", on);
  };
  set(armed.has(key) && Date.now() - armed.get(key) < ARM_MS);
  button.addEventListener("click", () => {
    if (armed.has(key) && Date.now() - armed.get(key) < ARM_MS) {
      armed.delete(key);
      set(false);
      onConfirm(button);
    } else {
      armed.set(key, Date.now());
      set(true);
      setTimeout(() => {
        if (armed.has(key) && Date.now() - armed.get(key) >= ARM_MS) {
          armed.delete(key);
          if (button.isConnected) set(false);
        }
      }, ARM_MS + 50);
    }
  });
  return button;
}

// Writes an action's answer next to its control: a message, an error, or the running action.
export function say(node, text, kind = "info") {
  if (!node) return;
  node.className = `action-status ${kind}`;
  node.textContent = text;
}
