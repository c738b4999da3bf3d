// Pipeline: videos per stage and status (stacked bars), pace and time left, failures by reason
// with retry buttons (POST pipeline/retry/).
import { barChart } from "../charts.js";
import { postJSON, errorText } from "./api.js";
import { confirmButton, el, empty, minutes, say, stats, videoLink } from "./dom.js";

const STATUSES = ["done", "running", "pending", "failed", "skipped"];

function eta(stage) {
  if (!stage.remaining) return "done";
  if (stage.eta_minutes === null) return "unknown (nothing finished in the last 10 min)";
  return minutes(stage.eta_minutes);
}

async function retry(ctx, body, what) {
  const status = document.getElementById("pipeline-message");
  say(status, `Retrying ${what}…`);
  const answer = await postJSON(`${ctx.api}pipeline/retry/`, body);
  if (answer.ok) say(status, answer.data.message || `Retried ${answer.data.retried} videos.`, "ok");
  else if (answer.status === 409) say(status, ctx.runningText(answer.data.action, answer.data.detail), "running");
  else say(status, `Retry refused: ${errorText(answer.status, answer.data)}`, "error");
  ctx.refresh();
}

function failureGroup(group, index, ctx) {
  const body = group.stage ? { stage: group.stage, reason: group.reason } : { video_ids: group.videos.map((v) => v.id) };
  const retryAll = confirmButton({
    key: `retry-reason:${group.reason}`, kind: "retry", armed: ctx.armed,
    text: `Retry ${group.count} video${group.count === 1 ? "" : "s"}`,
    confirmText: `Confirm: retry ${group.count}?`,
    onConfirm: () => retry(ctx, body, `“${group.reason}”`),
  });
  retryAll.id = `retry-reason-${index}`;
  const videos = group.videos.map((video) => {
    const one = confirmButton({
      key: `retry-video:${video.id}`, kind: "retry", armed: ctx.armed, text: "Retry", confirmText: "Confirm retry",
      onConfirm: () => retry(ctx, { video_ids: [video.id], ...(group.stage ? { stage: group.stage } : {}) }, video.external_id),
    });
    one.classList.add("small");
    return el("li", {}, videoLink(video.id, video.external_id), " ", one);
  });
  const more = group.count - group.videos.length;
  return el(
    "article",
    { class: "failure", dataset: { reason: group.reason } },
    el("h4", {}, group.reason),
    el("p", {}, `${group.count} video${group.count === 1 ? "" : "s"} failed${group.stage ? ` at ${group.stage}` : ""}. `, retryAll),
    el("ul", { class: "videos" }, videos),
    more > 0 ? el("p", { class: "note" }, `and ${more} more (retrying the reason covers them all)`) : null,
  );
}

export function renderPipeline(data, ctx) {
  if (!data.videos) return empty("No videos yet — upload a manifest below (Actions: Upload manifest).", "pipeline");
  const stages = data.stages;
  const working = stages.filter((s) => s.remaining > 0);
  const slowest = working.some((s) => s.eta_minutes === null)
    ? null
    : working.reduce((a, b) => (!a || b.eta_minutes > a.eta_minutes ? b : a), null);
  const left = !working.length ? "nothing left to do" : slowest ? `${minutes(slowest.eta_minutes)} (slowest: ${slowest.stage})` : "unknown: a stage with work left finished nothing in the last 10 min";
  const chart = barChart({
    name: "pipeline-stages",
    title: "Videos per stage and status",
    categories: stages.map((s) => s.stage),
    series: STATUSES.map((status) => ({ name: status, cls: `status-${status}`, values: stages.map((s) => s[status]) })),
    stacked: true,
    valueLabel: "Videos",
    categoryLabel: "Stage",
  });
  const pace = el(
    "table",
    { class: "grid pace", id: "pipeline-pace" },
    el("thead", {}, el("tr", {}, ["Stage", "Finished (last 10 min)", "Videos per minute", "Left", "Blocked by a failure", "Time left"].map((h) => el("th", { scope: "col" }, h)))),
    el(
      "tbody",
      {},
      stages.map((s) =>
        el(
          "tr",
          {},
          el("th", { scope: "row" }, s.stage),
          el("td", {}, s.throughput.finished),
          el("td", {}, `${s.throughput.per_minute}${s.throughput.exact ? "" : " (at most)"}`),
          el("td", {}, s.remaining),
          el("td", {}, s.blocked),
          el("td", { class: "eta" }, eta(s)),
        ),
      ),
    ),
  );
  const failures = data.failures.length
    ? el("div", { class: "failures" }, data.failures.map((g, i) => failureGroup(g, i, ctx)))
    : el("p", { class: "ok" }, "No failures.");
  return [
    stats([["Videos", data.videos], ["Failed", data.failed_videos], ["Time left", left]]),
    chart,
    el("h3", {}, "Pace and time left per stage"),
    pace,
    el("h3", {}, "Failures by reason"),
    failures,
  ];
}
