// Actions: each button asks first (confirm in place), then POSTs to the same endpoint as the
// command line. A kind that runs (GET actions/) disables its button and shows who started it
// and how far it is; 409 shows the running action; any other refusal shows the server's words.
import { errorText, getJSON, postForm, postJSON } from "./api.js";
import { el, say, when } from "./dom.js";

const $ = (id) => document.getElementById(id);
const value = (id) => ($(id) ? $(id).value.trim() : "");

export function runningText(action, detail = "") {
  if (!action) return detail || "Already running.";
  const progress = action.progress === null || action.progress === undefined ? "" : `, ${Math.round(action.progress * 100)} %`;
  const who = action.started_by ? ` by ${action.started_by}` : "";
  return `Running: ${action.kind.replace("_", " ")} started${who} at ${when(action.started_at)}${progress}${action.message ? ` — ${action.message}` : ""}`;
}

function kinds(ctx) {
  const base = ctx.api;
  return {
    ingest: {
      prefix: "action-ingest",
      check: () => ($("action-ingest-file").files.length ? null : "Choose a manifest file first."),
      question: () => `Upload ${$("action-ingest-file").files[0].name} and queue its videos?`,
      send: () => {
        const form = new FormData();
        form.append("manifest", $("action-ingest-file").files[0]);
        form.append("pipeline", "queue");
        return postForm(`${base}ingest/`, form);
      },
      done: (d) => `Read ${d.rows_read} rows: ${d.created} new videos, ${d.unchanged} unchanged, ${d.rejected} rejected.`,
    },
    create_tasks: {
      prefix: "action-create-tasks",
      question: () => `Create ${value("action-create-tasks-kind")} tasks${value("action-create-tasks-limit") ? ` (at most ${value("action-create-tasks-limit")})` : ""}${value("action-create-tasks-order") ? `, order ${value("action-create-tasks-order")}` : ""}?`,
      send: () => {
        const [limit, order] = [value("action-create-tasks-limit"), value("action-create-tasks-order")];
        return postJSON(`/api/v1/annotation/datasets/${encodeURIComponent(ctx.slug)}/tasks/`, {
          kind: value("action-create-tasks-kind"),
          ...(limit ? { limit: Number(limit) } : {}),
          ...(order ? { order } : {}),
        });
      },
      done: (d) => d.message || (d.created !== undefined ? `${d.created} tasks created.` : "Tasks created."),
    },
    aggregate: {
      prefix: "action-aggregate",
      question: () => `Aggregate the answers with method ${value("action-aggregate-method")}?`,
      send: () => postJSON(`${base}aggregate/`, { method: value("action-aggregate-method") }),
      done: (d) => d.message || "Aggregated.",
    },
    make_split: {
      prefix: "action-make-split",
      check: () => (value("action-make-split-name") ? null : "Name the split first (letters, digits, - and _)."),
      question: () => `Make split ${value("action-make-split-name")} with ratios ${value("action-make-split-ratios")}${$("action-make-split-freeze").checked ? " and freeze it" : ""}?`,
      send: () =>
        postJSON(`${base}splits/`, {
          name: value("action-make-split-name"),
          ratios: value("action-make-split-ratios") || "0.8,0.1,0.1",
          seed: Number(value("action-make-split-seed") || 0),
          freeze: $("action-make-split-freeze").checked,
        }),
      done: (d) => `Split ${d.name} made: ${Object.entries(d.sizes || {}).map(([k, n]) => `${k} ${n}`).join(", ")}${d.frozen ? " (frozen)" : ""}.${d.stats?.warning ? ` ${d.stats.warning}` : ""}`,
    },
    freeze_split: {
      prefix: "action-freeze-split",
      check: () => (value("action-freeze-split-name") ? null : "There is no unfrozen split to freeze."),
      question: () => `Freeze split ${value("action-freeze-split-name")}? It can never change again.`,
      send: () => postJSON(`${base}splits/${encodeURIComponent(value("action-freeze-split-name"))}/freeze/`, {}),
      done: (d) => `Split ${d.name} is frozen.`,
    },
    train: {
      prefix: "action-train",
      check: () => (value("action-train-split") ? null : "Freeze a split first: training needs a frozen split."),
      question: () => `Train on split ${value("action-train-split")} (${value("action-train-modalities")}, fusion ${value("action-train-fusion")})?`,
      send: () =>
        postJSON(`${base}model-runs/`, {
          split: value("action-train-split"),
          modalities: value("action-train-modalities") || "visual,audio,text",
          fusion: value("action-train-fusion"),
        }),
      done: (d) => `Training run ${d.id} queued.`,
      follow: (d) => follow(`/api/v1/model-runs/${d.id}/`, "action-train-status", ctx, (run) => `Run ${run.id}: ${run.status}${run.stage ? ` (${run.stage})` : ""}${run.error ? ` — ${run.error}` : ""}`),
    },
    score: {
      prefix: "action-score",
      question: () => `Score every video with ${value("action-score-model") ? `run ${value("action-score-model")}` : "the latest finished run"}?`,
      send: () => postJSON(`${base}scores/`, value("action-score-model") ? { model: Number(value("action-score-model")) } : {}),
      done: (d) => d.detail || "Scoring queued.",
    },
    export: {
      prefix: "action-export",
      question: () => `Export as ${value("action-export-format")}${value("action-export-split") ? ` (split ${value("action-export-split")})` : ""}?`,
      send: () => postJSON(`${base}exports/`, { format: value("action-export-format"), split: value("action-export-split") || null }),
      done: (d) => `Export ${d.id} queued.`,
      follow: (d) => follow(`/api/v1/exports/${d.id}/`, "action-export-status", ctx, (job) => {
        const bar = $("export-progress");
        bar.hidden = false;
        bar.value = job.progress || 0;
        if (job.status === "done") showLinks(job.files);
        return `Export ${job.id}: ${job.status}, ${Math.round((job.progress || 0) * 100)} %${job.rows_total ? ` (${job.rows_done} of ${job.rows_total} rows)` : ""}${job.error ? ` — ${job.error}` : ""}`;
      }),
    },
  };
}

// Follows a queued job (export, model run) until it ends, writing its progress.
async function follow(url, statusId, ctx, describe) {
  for (;;) {
    const answer = await getJSON(url);
    if (!answer.ok) return say($(statusId), `Could not follow the job: ${errorText(answer.status, answer.data)}`, "error");
    const job = answer.data;
    const ended = job.status === "done" || job.status === "failed";
    say($(statusId), describe(job), job.status === "failed" ? "error" : ended ? "ok" : "running");
    if (ended) return ctx.refresh();
    await new Promise((resolve) => setTimeout(resolve, ctx.followMs));
  }
}

function showLinks(files) {
  const list = $("export-links");
  list.replaceChildren(
    ...(files || []).map((url) => el("li", {}, el("a", { href: url, download: "" }, decodeURIComponent(url.split("/").pop())))),
  );
}

export function initActions(ctx) {
  const all = kinds(ctx);
  for (const [kind, spec] of Object.entries(all)) {
    const start = $(spec.prefix);
    if (!start) continue; // train and score are absent when models are off
    const ask = $(`${spec.prefix}-ask`);
    const status = $(`${spec.prefix}-status`);
    const close = () => {
      ask.hidden = true;
      start.hidden = false;
    };
    start.addEventListener("click", () => {
      const problem = spec.check ? spec.check() : null;
      if (problem) return say(status, problem, "error");
      say(status, "");
      $(`${spec.prefix}-question`).textContent = spec.question();
      start.hidden = true;
      ask.hidden = false;
      $(`${spec.prefix}-confirm`).focus();
    });
    $(`${spec.prefix}-cancel`).addEventListener("click", () => {
      close();
      start.focus();
    });
    $(`${spec.prefix}-confirm`).addEventListener("click", async () => {
      close();
      start.disabled = true;
      say(status, "Working…", "running");
      ctx.localBusy += 1;
      const answer = await spec.send();
      ctx.localBusy -= 1;
      start.disabled = Boolean(ctx.running[kind]);
      if (answer.ok) {
        say(status, spec.done(answer.data || {}), "ok");
        if (spec.follow) spec.follow(answer.data);
        if (answer.data?.action?.links?.files?.length) showLinks(answer.data.action.links.files);
        loadSplits(ctx);
      } else if (answer.status === 409) {
        if (answer.data?.action) ctx.running[kind] = answer.data.action;
        say(status, runningText(answer.data?.action, answer.data?.detail), "running");
        start.disabled = true;
      } else {
        say(status, errorText(answer.status, answer.data), "error");
      }
      ctx.refresh();
    });
  }
  $("action-compare").addEventListener("click", () => compareSplits(ctx));
  loadSplits(ctx);
}

async function compareSplits(ctx) {
  const [old, young] = [value("action-compare-old"), value("action-compare-new")];
  const status = $("action-compare-status");
  const out = $("split-diff");
  if (!old || !young) return say(status, "Make two splits first.", "error");
  const answer = await getJSON(`${ctx.api}splits/${encodeURIComponent(old)}/diff/${encodeURIComponent(young)}/`);
  if (!answer.ok) return say(status, errorText(answer.status, answer.data), "error");
  const d = answer.data;
  say(status, `${d.old} → ${d.new}: ${d.unchanged} videos unchanged.`, "ok");
  const line = (label, counts) => el("li", {}, `${label}: ${Object.entries(counts).map(([k, n]) => `${k} ${n}`).join(", ") || "none"}`);
  out.replaceChildren(
    el("ul", {}, line("Added", d.added), line("Removed", d.removed), el("li", {}, `Moved: ${d.moved.map((m) => `${m.from} → ${m.to} ${m.count}`).join(", ") || "none"}`)),
  );
}

export async function loadSplits(ctx) {
  const answer = await getJSON(`${ctx.api}splits/`);
  if (!answer.ok) return;
  const splits = [...answer.data].sort((a, b) => a.created_at.localeCompare(b.created_at)); // oldest first
  for (const select of document.querySelectorAll("select[data-splits]")) {
    const keep = select.value;
    const wanted = splits.filter((s) => select.dataset.splits === "all" || (select.dataset.splits === "frozen") === s.frozen);
    const options = wanted.map((s) => el("option", { value: s.name }, `${s.name}${s.frozen ? " (frozen)" : ""}`));
    if (select.dataset.none) options.unshift(el("option", { value: "" }, select.dataset.none));
    if (!options.length) options.push(el("option", { value: "" }, "(none yet)"));
    select.replaceChildren(...options);
    if ([...select.options].some((o) => o.value === keep)) select.value = keep;
    else if (select.id === "action-compare-new" && wanted.length > 1) select.value = wanted[wanted.length - 1].name;
  }
}

export function updateModelRuns(runs) {
  const select = $("action-score-model");
  if (!select) return;
  const keep = select.value;
  const done = runs.filter((r) => r.status === "done");
  select.replaceChildren(el("option", { value: "" }, "the latest finished"), ...done.map((r) => el("option", { value: r.id }, `run ${r.id} ${r.version}`)));
  select.value = [...select.options].some((o) => o.value === keep) ? keep : "";
}

function actionLine(a) {
  const progress = a.state === "running" && a.progress !== null && a.progress !== undefined ? ` · ${Math.round(a.progress * 100)} %` : "";
  const text = `${a.kind.replace("_", " ")} · ${a.state}${progress} · ${a.started_by || "someone"} · ${when(a.started_at)}${a.message ? ` — ${a.message}` : ""}`;
  return el("li", { class: `state-${a.state}`, dataset: { action: a.id, kind: a.kind } }, text);
}

// Applies GET actions/ (or null when the server has none): running kinds disable their buttons.
export function updateActions(ctx, data) {
  const recent = $("recent-actions");
  const running = $("running-actions");
  if (!data) {
    recent.replaceChildren(el("li", { class: "note" }, "This server keeps no action history yet."));
    return;
  }
  ctx.running = Object.fromEntries(data.running.map((a) => [a.kind, a]));
  running.replaceChildren(...(data.running.length ? data.running.map(actionLine) : [el("li", { class: "note" }, "Nothing is running.")]));
  recent.replaceChildren(...(data.recent.length ? data.recent.map(actionLine) : [el("li", { class: "note" }, "No action yet.")]));
  for (const [kind, spec] of Object.entries(kinds(ctx))) {
    const start = $(spec.prefix);
    if (!start) continue;
    const action = ctx.running[kind];
    const status = $(`${spec.prefix}-status`);
    if (action) {
      start.disabled = true;
      say(status, runningText(action), "running");
    } else if (start.disabled && !ctx.localBusy) {
      start.disabled = false;
      const last = data.recent.find((a) => a.kind === kind);
      if (status.classList.contains("running")) say(status, last ? `${last.state}: ${last.message}` : "", last?.state === "failed" ? "error" : "ok");
    }
  }
  for (const button of document.querySelectorAll("[data-action-kind]")) button.disabled = Boolean(ctx.running[button.dataset.actionKind]);
  const exported = data.recent.find((a) => a.kind === "export" && a.state === "done" && a.links?.files?.length);
  if (exported && !$("export-links").children.length) showLinks(exported.links.files);
}
