// Thumbnails (the paper's figures): candidate frames per video, the ground truth's similarity,
// the crowd's agreement with the ground truth by clicks bucket.
import { barChart, histogram } from "../charts.js";
import { fmt } from "../charts_core.js";
import { el, empty } from "./dom.js";

export function renderThumbnails(data) {
  const parts = [el("h3", {}, "Candidate frames per video")];
  const c = data.candidates;
  if (!c.videos) parts.push(empty("No candidate frames yet — the frames stage has not finished a video.", "thumbnails-candidates"));
  else {
    parts.push(
      histogram({
        name: "candidates",
        title: "Candidate frames per video",
        bins: c.histogram.map((h) => ({ label: String(h.candidates), value: h.videos })),
        valueLabel: "Videos",
        categoryLabel: "Candidate frames (count)",
        note: `${fmt.pct(c.typical_share)} of ${c.videos} videos keep ${c.typical_range[0]}–${c.typical_range[1]} candidates. The paper: most videos keep 7–12.`,
      }),
    );
  }
  parts.push(el("h3", {}, "Ground-truth similarity"));
  const s = data.similarity;
  if (!s.n) parts.push(empty("No ground-truth frame yet (needs videos with a posted thumbnail and frames).", "thumbnails-similarity"));
  else {
    parts.push(
      histogram({
        name: "similarity",
        title: "Similarity of the ground-truth frame to the posted thumbnail",
        bins: s.bins.map((b) => ({ label: `${b.low.toFixed(2)}–${b.high.toFixed(2)}`, value: b.videos })),
        valueLabel: "Videos",
        categoryLabel: "Similarity (0–1)",
        note: `Mean similarity ${fmt.pct(s.mean)} over ${s.n} videos (${s.needs_check} to check, ${s.without_truth} without a ground-truth frame). The paper: mean 93.8 %.`,
      }),
    );
  }
  parts.push(el("h3", {}, "Agreement with the ground truth by clicks"));
  const buckets = data.agreement_by_clicks;
  if (!buckets.some((b) => b.decided)) parts.push(empty("No thumbnail task decided yet — create thumbnail tasks (Actions: Create tasks) and aggregate.", "thumbnails-agreement"));
  else {
    parts.push(
      barChart({
        name: "agreement-clicks",
        title: "Crowd pick = ground-truth frame, by the video's clicks",
        categories: buckets.map((b) => b.clicks),
        series: [{ name: "Agreement", values: buckets.map((b) => b.agreement) }],
        horizontal: false,
        max: 1,
        format: fmt.pct,
        valueLabel: "Agreement (%)",
        categoryLabel: "Clicks (views)",
        extra: [
          { name: "Decided tasks", values: buckets.map((b) => b.decided) },
          { name: "Matches", values: buckets.map((b) => b.matches) },
        ],
        note: `Overall ${fmt.pct(data.agreement)}. The paper: agreement rises with clicks, above 60 %.`,
      }),
    );
  }
  return parts;
}
