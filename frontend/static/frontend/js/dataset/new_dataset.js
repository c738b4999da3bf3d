// The home page's "New dataset" form: POST /api/v1/datasets/, then open the new dataset's page.
import { errorText, postJSON } from "./api.js";

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
  const answer = await postJSON(form.dataset.api, body); // its CSRF token: the cookie, else data-csrf
  button.disabled = false;
  if (!answer.ok) {
    message.className = "error";
    message.textContent = errorText(answer.status, answer.data);
    return;
  }
  window.location.assign(form.dataset.page.replace("SLUG", encodeURIComponent(answer.data?.slug || slug)));
});
