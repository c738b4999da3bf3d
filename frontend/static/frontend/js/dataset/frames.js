// Frames: share of sampled frames flagged dark / blurry / uniform / near-duplicate, over the
// dataset and per topic (top N), with example frames.
import { barChart } from "../charts.js";
import { fmt } from "../charts_core.js";
import { el, empty, pager } from "./dom.js";

const FLAGS = ["dark", "blurry", "uniform", "near_duplicate"];
const LABEL = { dark: "dark", blurry: "blurry", uniform: "uniform", near_duplicate: "near-duplicate" };

function examples(data) {
  return el(
    "div",
    { class: "frame-examples" },
    FLAGS.map((flag) =>
      el(
        "figure",
        { dataset: { flag } },
        el("figcaption", {}, `${LABEL[flag]} (${data.dataset[flag]})`),
        data.examples[flag].length
          ? data.examples[flag].map((id) => el("img", { src: `/frames/${id}.jpg`, alt: `${LABEL[flag]} frame ${id}`, loading: "lazy", width: 160 }))
          : el("p", { class: "note" }, "no example"),
      ),
    ),
  );
}

export function renderFrames(data, ctx) {
  const d = data.dataset;
  if (!d.frames) return empty("No frames sampled yet — the frames stage has not run on a video.", "frames");
  const parts = [
    barChart({
      name: "frame-flags",
      title: `Share of the ${d.frames} sampled frames flagged`,
      categories: FLAGS.map((f) => LABEL[f]),
      series: [{ name: "Share of frames", values: FLAGS.map((f) => d.shares[f]) }],
      valueLabel: "Frames (%)",
      categoryLabel: "Flag",
      format: fmt.pct,
      extra: [{ name: "Frames", values: FLAGS.map((f) => d[f]) }],
      note: `${fmt.pct(d.shares.flagged)} of frames are dark, blurry or uniform; near-duplicate: good frames dropped for a better one of their scene.`,
    }),
  ];
  parts.push(el("h3", {}, "Per topic"));
  const page = data.topics;
  if (!page.total) parts.push(empty("No topic has frames yet (videos without a weak topic count in the dataset only).", "frames-topics"));
  else {
    parts.push(
      barChart({
        name: "frame-topics",
        title: "Share of frames flagged per topic (most flagged first)",
        categories: page.rows.map((r) => r.topic),
        series: FLAGS.map((f, i) => ({ name: LABEL[f], cls: `s${i}`, values: page.rows.map((r) => r.shares[f]) })),
        valueLabel: "Frames (%)",
        categoryLabel: "Topic",
        format: fmt.pct,
        extra: [{ name: "Frames", values: page.rows.map((r) => r.frames) }],
      }),
      pager("frame-topics", "topics", page, ctx.state.frameTopics, ctx.refresh),
    );
  }
  parts.push(el("h3", {}, "Examples"), examples(data));
  return parts;
}
