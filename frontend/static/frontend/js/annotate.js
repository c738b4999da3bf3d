// The task page: keyboard-first, one task on screen and the next one already fetched.
// Every piece of user text goes through textContent, never innerHTML.
import { FRAME_KEYS, frameForKey, noTaskMessage } from "./annotate_text.js";

const root = document.getElementById("annotate");
const base = root.dataset.api.replace(/next\/$/, "");
const csrf = root.dataset.csrf;
const filters = { dataset: root.dataset.dataset || undefined, kind: root.dataset.kind || undefined };
const $ = (id) => document.getElementById(id);
const player = $("player");
const prefetchPlayer = $("prefetch");

let current = null; // the task on screen
let upcoming = null; // the next task, fetched (and its video loading) while this one is shown
let lastAnswered = null; // the task Z takes back
let shownAt = performance.now();
let busy = false;
let refilling = Promise.resolve(); // the prefetch in flight, awaited before the next action
let answers = Number(root.dataset.answers) || 0;
const sessionStart = performance.now() - (Number(root.dataset.seconds) || 0) * 1000;

async function call(path, body) {
  const response = await fetch(base + path, {
    method: body === undefined ? "GET" : "POST",
    headers: { "Content-Type": "application/json", "X-CSRFToken": csrf },
    credentials: "same-origin",
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (response.status === 204) return null;
  const data = await response.json().catch(() => ({}));
  if (!response.ok) {
    const error = new Error(data.detail || `The server answered ${response.status}.`);
    error.status = response.status;
    throw error;
  }
  return data;
}

function say(text, isError = false) {
  const message = $("message");
  message.textContent = text;
  message.hidden = !text;
  message.classList.toggle("error", isError);
}

async function fetchNext() {
  const exclude = [current, upcoming].filter(Boolean).map((task) => task.id);
  const data = await call("next/", { ...filters, exclude });
  // No task, but videos still being processed: {"task": null, "preparing": {...}}.
  if (data && data.task === null) {
    preparing = data.preparing;
    return null;
  }
  if (!data) preparing = null;
  return data;
}

function preload(task) {
  if (!task) return;
  prefetchPlayer.src = task.video_url; // the browser starts fetching the next video now
  for (const frame of task.frames) new Image().src = frame.url;
}

let preparing = null; // the server's {videos, eta_minutes} when it had no task but work is coming
let waiting = null;

function waitForPrepared() {
  if (waiting) return;
  waiting = setTimeout(async () => {
    waiting = null;
    if (current) return;
    try {
      show(await fetchNext());
      if (current) refill();
    } catch (error) {
      say(error.message, true);
    }
  }, 15000);
}

function show(task) {
  current = task;
  if (!task) {
    $("task").hidden = true;
    player.removeAttribute("src");
    say(noTaskMessage(preparing));
    if (preparing) waitForPrepared();
    return;
  }
  say("");
  $("task").hidden = false;
  $("question").textContent = task.question;
  $("topic").textContent = task.kind === "topic" ? task.topic : "";
  $("macro").textContent = task.kind === "topic" && task.macro_topic ? `(${task.macro_topic})` : "";
  // Only where the dataset's show_model_guesses is on: the model's guess, marked as such.
  const guess = task.model_guess;
  $("guess").hidden = !guess;
  $("guess").textContent = guess
    ? `Model's guess: ${guess.top_topic || "no topic"} · ${Math.round(guess.weak_topic_probability * 100)} % that the topic above is right`
    : "";
  $("title").textContent = task.title;
  $("subtitle").textContent = task.subtitle;
  $("subtitle").hidden = !task.subtitle;
  $("choices").hidden = task.kind !== "topic";
  const grid = $("grid");
  grid.hidden = task.kind !== "thumbnail";
  grid.replaceChildren(
    ...task.frames.map((frame, index) => {
      const button = document.createElement("button");
      button.type = "button";
      button.className = "frame";
      button.dataset.frame = String(frame.id);
      const image = document.createElement("img");
      image.src = frame.url;
      image.alt = `Frame ${frame.number}`;
      const label = document.createElement("kbd");
      label.textContent = (FRAME_KEYS[index] || "").toUpperCase();
      button.append(image, label);
      button.addEventListener("click", () => answer({ frame: frame.id }));
      return button;
    }),
  );
  player.src = task.video_url;
  player.play().catch(() => {}); // autoplay is muted, so browsers allow it
  $("undo").disabled = !lastAnswered;
  shownAt = performance.now();
}

function refill() {
  refilling = (async () => {
    try {
      upcoming = await fetchNext();
      preload(upcoming);
    } catch (error) {
      upcoming = null;
      say(error.message, true);
    }
  })();
  return refilling;
}

async function answer(payload) {
  if (busy || !current) return;
  busy = true;
  await refilling;
  const seconds = Math.round((performance.now() - shownAt) / 100) / 10;
  try {
    await call(`assignments/${current.id}/answer/`, { ...payload, seconds });
    answers += 1;
    $("count").textContent = String(answers);
    lastAnswered = current;
    const next = upcoming;
    upcoming = null;
    show(next || (await fetchNext()));
    if (current) refill();
  } catch (error) {
    say(error.message, true);
    if (error.status === 409 || error.status === 404) {
      // The lease expired or the task is gone: move on to the next one.
      const next = upcoming;
      upcoming = null;
      current = null;
      show(next || (await fetchNext().catch(() => null)));
      say(error.message, true);
      if (current) refill();
    }
  } finally {
    busy = false;
  }
}

async function undo() {
  if (busy || !lastAnswered) return;
  busy = true;
  await refilling;
  try {
    const task = await call(`assignments/${lastAnswered.id}/undo/`, {});
    answers -= 1;
    $("count").textContent = String(answers);
    lastAnswered = null;
    // The task on screen becomes the next one; the prefetched one stays leased to us and
    // the server hands it back later.
    upcoming = current;
    show(task);
    say("Your last answer was taken back: answer this task again.");
  } catch (error) {
    say(error.message, true);
  } finally {
    busy = false;
  }
}

function toggleSound() {
  player.muted = !player.muted;
  $("sound").textContent = player.muted ? "Sound off " : "Sound on ";
  const key = document.createElement("kbd");
  key.textContent = "M";
  $("sound").append(key);
}

document.addEventListener("keydown", (event) => {
  if (event.ctrlKey || event.metaKey || event.altKey) return;
  const help = $("help");
  if (event.key === "?") {
    help.open ? help.close() : help.showModal();
    return;
  }
  if (help.open) return;
  const key = event.key.toLowerCase();
  if (key === "z") return undo();
  if (key === "m") return toggleSound();
  if (!current) return;
  if (current.kind === "topic" && { y: "yes", n: "no", u: "unsure" }[key]) {
    answer({ choice: { y: "yes", n: "no", u: "unsure" }[key] });
  } else if (current.kind === "thumbnail") {
    const frame = frameForKey(current.frames, key);
    if (frame) answer({ frame: frame.id });
  }
});

for (const button of document.querySelectorAll("[data-choice]")) {
  button.addEventListener("click", () => answer({ choice: button.dataset.choice }));
}
$("undo").addEventListener("click", undo);
$("sound").addEventListener("click", toggleSound);
$("help-open").addEventListener("click", () => $("help").showModal());

setInterval(() => {
  const total = Math.floor((performance.now() - sessionStart) / 1000);
  $("elapsed").textContent = `${Math.floor(total / 60)}:${String(total % 60).padStart(2, "0")}`;
}, 1000);

(async () => {
  try {
    show(await fetchNext());
    if (current) refill();
  } catch (error) {
    say(error.message, true);
  }
})();
