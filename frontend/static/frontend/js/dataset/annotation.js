// Annotation: answers in / needed per kind, pace, active workers, time per answer, and the
// worker table with pause / exclude (POST /api/v1/annotation/workers/<username>/).
import { barChart } from "../charts.js";
import { fmt } from "../charts_core.js";
import { errorText, postJSON } from "./api.js";
import { el, empty, pager, say, stats } from "./dom.js";

function kindProgress(kind) {
  const share = kind.needed ? kind.answered / kind.needed : 0;
  const verdicts = Object.entries(kind.verdicts || {}).map(([name, n]) => `${name} ${n}`).join(", ");
  return el(
    "div",
    { class: "kind-progress", dataset: { kind: kind.kind } },
    el("label", { for: `progress-${kind.kind}` }, `${kind.kind} tasks`),
    el("progress", { id: `progress-${kind.kind}`, max: Math.max(1, kind.needed), value: kind.answered }, fmt.pct(share)),
    el(
      "span",
      {},
      `${kind.answered} of ${kind.needed} answers (${fmt.pct(share)}) · ${kind.tasks} tasks, ${kind.complete} complete · ` +
        `median ${kind.median_seconds === null ? "—" : `${kind.median_seconds} s`} per answer` +
        (verdicts ? ` · verdicts: ${verdicts}` : ""),
    ),
  );
}

async function setStanding(ctx, username, body, what) {
  const status = document.getElementById("workers-message");
  say(status, `${what} ${username}…`);
  const answer = await postJSON(`/api/v1/annotation/workers/${encodeURIComponent(username)}/`, body);
  if (answer.ok) say(status, `${what} ${username}: done.`, "ok");
  else say(status, `${what} ${username} refused: ${errorText(answer.status, answer.data)}`, "error");
  ctx.refresh();
}

function workerRow(w, ctx) {
  const toggle = (field, on, onText, offText) => {
    const b = el("button", { type: "button", class: "small", dataset: { key: `worker:${w.username}:${field}`, username: w.username } }, on ? offText : onText);
    b.addEventListener("click", () => setStanding(ctx, w.username, { [field]: !on }, on ? offText : onText));
    return b;
  };
  const gold = w.gold_answered ? `${fmt.pct(w.gold_accuracy)} (${w.gold_correct} of ${w.gold_answered})` : "no gold yet";
  const peers = w.peer_pairs ? `${fmt.pct(w.peer_agreement)} (${w.peer_pairs} pairs)` : "—";
  return el(
    "tr",
    { class: w.flagged ? "flagged" : "", dataset: { worker: w.username } },
    el("th", { scope: "row" }, w.username),
    el("td", {}, w.answers),
    el("td", {}, gold),
    el("td", {}, peers),
    el("td", {}, [w.active ? "active" : "", w.flagged ? "flagged" : "", w.is_paused ? "paused" : "", w.answers_excluded ? "answers excluded" : ""].filter(Boolean).join(", ") || "—"),
    el("td", {}, toggle("paused", w.is_paused, "Pause", "Resume"), " ", toggle("answers_excluded", w.answers_excluded, "Exclude answers", "Include answers")),
  );
}

export function renderAnnotation(data, ctx) {
  const tasks = data.kinds.reduce((n, k) => n + k.tasks, 0);
  if (!tasks) return empty("No tasks yet — create tasks below (Actions: Create tasks).", "annotation");
  const perHour = data.answers_per_hour;
  const lastHour = perHour.length ? perHour[perHour.length - 1].answers : 0;
  const dayTotal = perHour.reduce((n, h) => n + h.answers, 0);
  const parts = [
    stats([
      ["Answers", `${data.answers} of ${data.needed} needed`],
      ["Answers this hour", lastHour],
      ["Answers in 24 h", dayTotal],
      ["Active workers", data.active_workers],
      ["Median time per answer", data.median_seconds === null ? "—" : `${data.median_seconds} s`],
    ]),
    el("div", { class: "kinds" }, data.kinds.filter((k) => k.tasks).map(kindProgress)),
  ];
  if (!data.answers) parts.push(empty("No answers yet — the tasks wait for crowdworkers.", "annotation-answers"));
  if (dayTotal) {
    parts.push(
      barChart({
        name: "answers-per-hour",
        title: "Answers per hour (last 24 h, UTC)",
        categories: perHour.map((h) => `${h.hour.slice(11, 13)}:00`),
        keys: perHour.map((h) => h.hour),
        series: [{ name: "Answers", values: perHour.map((h) => h.answers) }],
        horizontal: false,
        valueLabel: "Answers per hour",
        categoryLabel: "Hour (UTC)",
      }),
    );
  }
  parts.push(el("h3", {}, "Workers"));
  const page = data.workers;
  if (!page.total) {
    parts.push(empty("No crowdworker has answered yet.", "workers"));
    return parts;
  }
  if (data.flagged_workers.length) parts.push(el("p", { class: "warning" }, `Flagged: ${data.flagged_workers.join(", ")}`));
  parts.push(
    el(
      "table",
      { class: "grid workers", id: "workers" },
      el("thead", {}, el("tr", {}, ["Worker", "Answers", "Gold accuracy", "Agreement with peers", "Standing", "Actions"].map((h) => el("th", { scope: "col" }, h)))),
      el("tbody", {}, page.rows.map((w) => workerRow(w, ctx))),
    ),
    pager("workers", "workers", page, ctx.state.workers, ctx.refresh),
  );
  return parts;
}
