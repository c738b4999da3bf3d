// Label quality: noise rate per topic (top N, sorted, 95 % error bars, human and model side by
// side), per macro topic, the overall estimate, its history, kappa / alpha, disputed videos.
import { barChart, lineChart } from "../charts.js";
import { fmt } from "../charts_core.js";
import { el, empty, pager, stats, videoLink } from "./dom.js";

function estimateText(e) {
  if (!e) return "—";
  return `${fmt.pct(e.rate)} (95 % ${fmt.pct(e.low)}–${fmt.pct(e.high)}; ${e.noisy} of ${e.n} videos, ${e.method})`;
}

function series(rows, withModel) {
  const pick = (who) => ({
    name: who === "human" ? "Human (verified)" : "Model",
    cls: who === "human" ? "s0" : "s1",
    values: rows.map((r) => r[who]?.rate ?? null),
    low: rows.map((r) => r[who]?.low ?? null),
    high: rows.map((r) => r[who]?.high ?? null),
  });
  return withModel ? [pick("human"), pick("model")] : [pick("human")];
}

function rateChart(name, title, rows, categoryLabel, extra) {
  const withModel = rows.some((r) => r.model);
  return barChart({
    name,
    title,
    categories: rows.map((r) => r.key),
    series: series(rows, withModel),
    valueLabel: "Noise rate (%)",
    categoryLabel,
    format: fmt.pct,
    extra,
  });
}

function overall(data) {
  const { human, model } = data.overall;
  const lines = [
    ["Noise rate (human)", estimateText(human)],
    model ? ["Noise rate (model)", estimateText(model)] : null,
    data.unverified.human
      ? ["Unverified videos (human, extrapolated)", `${estimateText(data.unverified.human)}: ${data.unverified.human.expected_low}–${data.unverified.human.expected_high} of ${data.unverified.human.population} noisy`]
      : null,
    data.unverified.model ? ["Unverified videos (model)", estimateText(data.unverified.model)] : null,
  ];
  const a = data.agreement;
  lines.push([
    "Agreement",
    a.kappa === null && a.alpha === null
      ? "not measured yet (needs videos answered by two workers)"
      : `Cohen's κ ${fmt.fixed(2)(a.kappa)} · Krippendorff's α ${fmt.fixed(2)(a.alpha)} over ${a.paired_videos} videos (${a.method} aggregation)`,
  ]);
  return stats(lines);
}

function topicsPart(data, ctx) {
  const page = data.topics;
  if (!page.total) return [empty("This dataset has no topics yet.", "quality-topics")];
  const measured = page.rows.filter((r) => r.human || r.model);
  const unmeasured = page.rows.filter((r) => !r.human && !r.model);
  const parts = [];
  const range = page.rows.length < page.total ? ` (${page.offset + 1}–${page.offset + page.rows.length} of ${page.total}, highest first)` : " (highest first)";
  if (measured.length) {
    parts.push(
      rateChart("noise-topics", `Noise rate per topic with 95 % intervals${range}`, measured, "Topic", [
        { name: "κ (kappa)", values: measured.map((r) => r.kappa), format: fmt.fixed(2) },
        { name: "α (alpha)", values: measured.map((r) => r.alpha), format: fmt.fixed(2) },
        { name: "Videos answered", values: measured.map((r) => r.answered_videos) },
      ]),
    );
  } else {
    parts.push(empty("No topic on this page has a noise estimate yet.", "quality-topics"));
  }
  if (unmeasured.length) {
    parts.push(el("p", { class: "note", dataset: { unmeasured: unmeasured.length } }, `No verified videos yet: ${unmeasured.map((r) => r.key).join(", ")}`));
  }
  parts.push(pager("topics", "topics", page, ctx.state.topics, ctx.refresh));
  return parts;
}

function historyPart(history) {
  if (!history.length) return empty("No estimate over time yet — aggregate answers (Actions: Aggregate).", "quality-history");
  const byEstimator = new Map();
  for (const h of history) {
    if (!byEstimator.has(h.estimator)) byEstimator.set(h.estimator, []);
    byEstimator.get(h.estimator).push({ x: Date.parse(h.created_at), y: h.rate, low: h.low, high: h.high });
  }
  return lineChart({
    name: "noise-history",
    title: "Overall noise rate over time, with 95 % intervals",
    xLabel: "Estimated at",
    yLabel: "Noise rate (%)",
    format: fmt.pct,
    series: [...byEstimator].map(([name, points], i) => ({ name, points, cls: `s${i}` })),
  });
}

function disputedPart(disputed) {
  if (!disputed.length) return empty("No disputed video (needs an aggregation with answers that disagree).", "quality-disputed");
  return el(
    "ol",
    { class: "disputed" },
    disputed.map((d) => {
      const counts = Object.entries(d.counts || {}).map(([k, n]) => `${k} ${n}`).join(" · ");
      return el("li", {}, videoLink(d.video, d.external_id), ` ${d.title || ""} (${d.topic || "no topic"}): ${counts}; verdict ${d.verdict || "none"}`);
    }),
  );
}

export function renderQuality(data, ctx) {
  const aggregated = data.overall.human || data.overall.model || data.history.length;
  const parts = [];
  if (!aggregated) parts.push(empty("Not aggregated yet: no noise estimate — aggregate answers below (Actions: Aggregate).", "quality"));
  else parts.push(overall(data));
  if (data.bias && data.bias.biased) parts.push(el("p", { class: "warning" }, data.bias.reason));
  parts.push(el("h3", {}, "Per topic"), ...topicsPart(data, ctx));
  parts.push(el("h3", {}, "Per macro topic"));
  parts.push(
    data.macro_topics.length
      ? rateChart("noise-macro", "Noise rate per macro topic with 95 % intervals", data.macro_topics, "Macro topic")
      : empty("No macro-topic estimate (topics without macro topics, or nothing aggregated yet).", "quality-macro"),
  );
  if (data.splits.length) {
    parts.push(el("h3", {}, "Per split subset"), rateChart("noise-splits", "Noise rate per split subset with 95 % intervals", data.splits, "Split subset"));
  }
  parts.push(el("h3", {}, "Over time"), historyPart(data.history));
  parts.push(el("h3", {}, "Most disputed videos"), disputedPart(data.disputed));
  return parts;
}
