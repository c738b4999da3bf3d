// Models: every ModelRun's per-branch and fused metrics, the learnability scatter (MV-58K:
// per-topic AP against log10 training examples), the unlearnable topics.
import { barChart, scatterChart } from "../charts.js";
import { fmt } from "../charts_core.js";
import { el, empty, when } from "./dom.js";

const METRICS = [["mca", "mean class accuracy"], ["top5", "top-5 accuracy"], ["map_tag", "mAP (tags)"]];

// The rows of one run: each branch, then each fusion, with the subset that has numbers.
function metricRows(run) {
  const rows = [
    ...Object.entries(run.branches).map(([name, m]) => [name, m]),
    ...Object.entries(run.fused).map(([name, m]) => [`fused (${name})`, m]),
  ];
  const has = (subset) => rows.some(([, m]) => METRICS.some(([k]) => m[subset]?.[k] !== null && m[subset]?.[k] !== undefined));
  const subset = has("test") ? "test" : has("val") ? "val" : null;
  return { rows, subset };
}

function runsTable(runs) {
  return el(
    "table",
    { class: "grid runs", id: "model-runs" },
    el("thead", {}, el("tr", {}, ["Run", "Status", "Started", "Training (s)", "Fusion used", "Note"].map((h) => el("th", { scope: "col" }, h)))),
    el(
      "tbody",
      {},
      runs.map((r) =>
        el(
          "tr",
          { dataset: { run: r.id } },
          el("th", { scope: "row" }, `${r.id} ${r.version}`),
          el("td", {}, r.status),
          el("td", {}, when(r.created_at)),
          el("td", {}, r.train_seconds === null ? "—" : r.train_seconds.toFixed(1)),
          el("td", {}, r.used || "—"),
          el("td", {}, r.error || r.refused || ""),
        ),
      ),
    ),
  );
}

export function renderModels(data, ctx) {
  if (!data.runs.length) {
    return empty(
      ctx.modelsEnabled
        ? "No model runs yet — freeze a split and train a model below (Actions: Train)."
        : "Models are turned off on this server (MICROCURATE_MODELS_ENABLED=0): no model runs.",
      "models",
    );
  }
  const parts = [runsTable(data.runs)];
  const shown = data.runs.map((run) => ({ run, ...metricRows(run) })).find((r) => r.subset);
  if (shown) {
    const { run, rows, subset } = shown;
    parts.push(
      barChart({
        name: "model-metrics",
        title: `Per-branch and fused metrics of run ${run.id} (${subset})`,
        categories: rows.map(([name]) => name),
        series: METRICS.map(([key, label], i) => ({ name: label, cls: `s${i}`, values: rows.map(([, m]) => m[subset]?.[key] ?? null) })),
        valueLabel: `Metric on ${subset} (%)`,
        categoryLabel: "Branch",
        format: fmt.pct,
        max: 1,
      }),
    );
  } else parts.push(empty("No run has metrics yet (runs that failed or still train have none).", "models-metrics"));
  parts.push(el("h3", {}, "Learnability"));
  const l = data.learnability;
  const points = (l.topics || [])
    .filter((t) => t.ap !== null && t.log10_n_train !== null)
    .map((t) => ({ x: t.log10_n_train, y: t.ap, label: t.name, cls: t.unlearnable ? "unlearnable" : "s0", n: t.n_train, prevalence: t.prevalence }));
  if (!points.length) parts.push(empty("No per-topic AP yet (learnability needs a finished run with per-topic metrics).", "models-learnability"));
  else {
    parts.push(
      scatterChart({
        name: "learnability",
        title: `Per-topic AP against training examples (run ${l.run}, ${l.subset || "test"})`,
        xLabel: "Training examples (log10)",
        yLabel: "Average precision (AP)",
        points,
        trend: l.trend,
        xFormat: fmt.fixed(1),
        yFormat: fmt.fixed(2),
        max: 1,
        series: [{ name: "learnable", cls: "s0" }, { name: "unlearnable", cls: "unlearnable" }],
        extraColumns: [
          { name: "Training examples", value: (p) => fmt.number(p.n) },
          { name: "Chance (prevalence)", value: (p) => fmt.fixed(2)(p.prevalence) },
          { name: "Unlearnable", value: (p) => (p.cls === "unlearnable" ? "yes" : "no") },
        ],
        note: l.trend ? `Trend: AP = ${l.trend.slope} · log10(n) + ${l.trend.intercept} over ${l.trend.topics} topics.` : null,
      }),
    );
  }
  parts.push(el("h3", {}, "Unlearnable topics"));
  parts.push(
    data.unlearnable.length
      ? el("ul", { class: "unlearnable", id: "unlearnable" }, data.unlearnable.map((u) => el("li", {}, el("b", {}, u.name), `: ${u.reason}`)))
      : empty("No unlearnable topic.", "models-unlearnable"),
  );
  return parts;
}
