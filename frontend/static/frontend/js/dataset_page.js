// The staff dataset page (issue 18): fills each section from GET /api/v1/datasets/<slug>/dashboard/
// <section>/ and the Actions from GET .../actions/, polling (data-poll-ms, default 10 s;
// data-poll-busy-ms, default 2 s, while an action runs or the pipeline has work left). A refresh
// redraws a section only when its numbers changed, and keeps focus, scroll and open tables.
//
// Stable ids of the action controls (for tests and the end-to-end run):
//   each action: #action-<kind> (start), #action-<kind>-confirm, #action-<kind>-cancel,
//   #action-<kind>-question (the confirmation text), #action-<kind>-status (message, error, or
//   the running action), with <kind> one of ingest, create-tasks, aggregate, make-split,
//   freeze-split, train, score, export. Their inputs:
//   #action-ingest-file                         (manifest file, POST ingest/ multipart)
//   #action-create-tasks-kind, #action-create-tasks-limit, #action-create-tasks-order
//   #action-aggregate-method                    (auto | usv | mv | ds)
//   #action-make-split-name, #action-make-split-ratios, #action-make-split-seed, #action-make-split-freeze
//   #action-freeze-split-name                   (select of the unfrozen splits)
//   #action-compare-old, #action-compare-new, #action-compare (button), #split-diff (the result)
//   #action-train-split (frozen splits), #action-train-modalities, #action-train-fusion
//   #action-score-model                         ("" = the latest finished run)
//   #action-export-format, #action-export-split ("" = no split), #export-progress, #export-links a
//   #running-actions li, #recent-actions li     (GET actions/; li[data-kind], class state-<state>)
// Pipeline retry: #retry-reason-<i> (per reason, i in failure order) and a "Retry" per video, both
// confirm in place (a second click); messages in #pipeline-message. Workers: Pause/Resume and
// Exclude/Include buttons per row of #workers; messages in #workers-message.
// Charts: svg[data-chart=NAME] (pipeline-stages, answers-per-hour, noise-topics, noise-macro,
// noise-splits, noise-history, candidates, similarity, agreement-clicks, frame-flags,
// frame-topics, model-metrics, learnability) with rect.bar / circle.point; each chart's table:
// details[data-key="table:NAME"] table. Empty sections: p.empty[data-empty=...].

import { getJSON } from "./dataset/api.js";
import { initActions, loadSplits, runningText, updateActions, updateModelRuns } from "./dataset/actions.js";
import { renderAnnotation } from "./dataset/annotation.js";
import { el, TOP_N } from "./dataset/dom.js";
import { renderFrames } from "./dataset/frames.js";
import { renderModels } from "./dataset/models.js";
import { renderPipeline } from "./dataset/pipeline.js";
import { renderQuality } from "./dataset/quality.js";
import { renderThumbnails } from "./dataset/thumbnails.js";

const root = document.getElementById("dataset-page");
const idleMs = Number(root.dataset.pollMs) || 10000;
const busyMs = Number(root.dataset.pollBusyMs) || 2000;

const ctx = {
  slug: root.dataset.slug,
  api: root.dataset.api,
  modelsEnabled: root.dataset.modelsEnabled === "1",
  followMs: Math.min(busyMs, 1000),
  state: {
    topics: { limit: TOP_N, offset: 0 },
    frameTopics: { limit: TOP_N, offset: 0 },
    workers: { limit: TOP_N, offset: 0 },
  },
  armed: new Map(), // confirm-in-place buttons waiting for their second click
  running: {}, // kind -> the running action
  localBusy: 0,
  runningText,
  refresh: () => schedule(0),
};

const paged = (name) => `?limit=${ctx.state[name].limit}&offset=${ctx.state[name].offset}`;
const SECTIONS = [
  { id: "pipeline", url: () => "dashboard/pipeline/", render: renderPipeline },
  { id: "annotation", url: () => `dashboard/annotation/${paged("workers")}`, render: renderAnnotation },
  { id: "quality", url: () => `dashboard/quality/${paged("topics")}`, render: renderQuality },
  { id: "thumbnails", url: () => "dashboard/thumbnails/", render: renderThumbnails },
  { id: "frames", url: () => `dashboard/frames/${paged("frameTopics")}`, render: renderFrames },
  { id: "models", url: () => "dashboard/models/", render: renderModels },
];
const shown = new Map(); // section id -> the JSON last drawn

// Replaces a section's content, keeping what the reader was doing: the focused control (by its
// data-key), the open table views, and the scroll position.
function replaceBody(body, nodes) {
  const active = document.activeElement;
  const focusKey = active && body.contains(active) ? active.dataset.key : null;
  const open = new Set([...body.querySelectorAll("details[open]")].map((d) => d.dataset.key));
  const [x, y] = [window.scrollX, window.scrollY];
  body.replaceChildren(...[nodes].flat().filter(Boolean));
  for (const details of body.querySelectorAll("details[data-key]")) {
    if (open.has(details.dataset.key)) details.open = true;
  }
  if (focusKey) {
    const again = [...body.querySelectorAll("[data-key]")].find((n) => n.dataset.key === focusKey);
    if (again) again.focus({ preventScroll: true });
  }
  window.scrollTo(x, y);
}

function comparable(data) {
  const { generated_at: _ignored, ...rest } = data || {};
  return JSON.stringify(rest);
}

async function loadSection(section) {
  const url = section.url();
  const answer = await getJSON(`${ctx.api}${url}`);
  const body = root.querySelector(`.section-body[data-section="${section.id}"]`);
  const key = `${url} ${answer.ok ? comparable(answer.data) : answer.status}`;
  if (shown.get(section.id) === key) return answer;
  shown.set(section.id, key);
  if (!answer.ok) {
    const detail = answer.data && answer.data.detail ? answer.data.detail : `the server answered ${answer.status}`;
    replaceBody(body, el("p", { class: "error" }, `Could not load this section: ${detail}`));
    return answer;
  }
  try {
    replaceBody(body, section.render(answer.data, ctx));
  } catch (error) {
    // A bug here must not blank the rest of the page: say it where the section would be.
    console.error(error);
    replaceBody(body, el("p", { class: "error" }, `This section could not be drawn: ${error.message}`));
  }
  return answer;
}

async function loadActions() {
  const answer = await getJSON(`${ctx.api}actions/`);
  updateActions(ctx, answer.ok ? answer.data : null);
  return answer.ok ? answer.data : null;
}

let timer = null;
let loading = false;
let again = false;
let lastRecent = null;

async function tick() {
  if (loading) {
    again = true;
    return;
  }
  loading = true;
  clearTimeout(timer);
  const [answers, actions] = await Promise.all([Promise.all(SECTIONS.map(loadSection)), loadActions()]);
  const [pipeline] = answers;
  const models = answers[SECTIONS.findIndex((s) => s.id === "models")];
  if (models.ok) updateModelRuns(models.data.runs);
  const newest = actions && actions.recent.length ? `${actions.recent[0].id}:${actions.recent[0].state}` : null;
  if (newest !== lastRecent) {
    lastRecent = newest;
    loadSplits(ctx);
  }
  const pipelineWorking = pipeline.ok && pipeline.data.stages.some((s) => s.remaining > 0 && s.eta_minutes !== 0);
  const busy = ctx.localBusy > 0 || (actions && actions.running.length > 0) || pipelineWorking;
  root.dataset.busy = busy ? "1" : "0";
  document.getElementById("refreshed").textContent = `Updated ${new Date().toLocaleTimeString("en-GB")}${busy ? " · work in progress, refreshing every few seconds" : ""}`;
  loading = false;
  root.dataset.loaded = String(Number(root.dataset.loaded || 0) + 1);
  if (again) {
    again = false;
    schedule(0);
  } else schedule(busy ? busyMs : idleMs);
}

function schedule(ms) {
  clearTimeout(timer);
  timer = setTimeout(tick, ms);
}

initActions(ctx);
tick();
