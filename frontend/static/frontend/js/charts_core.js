// The parts every chart shares (charts.js draws them): SVG and HTML elements built with
// textContent only (data is never parsed as markup), linear scales with round ticks, the value
// tooltip, the figure with its title and legend, and the <details> table of the chart's numbers.

const SVG = "http://www.w3.org/2000/svg";

export function svg(tag, attrs = {}, text = null) {
  const node = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value !== null && value !== undefined) node.setAttribute(key, String(value));
  }
  if (text !== null) node.textContent = String(text);
  return node;
}

// el("p", {class: "note"}, "text", child, ...): strings become text nodes, never HTML.
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "dataset") Object.assign(node.dataset, value);
    else if (key === "hidden" || key === "disabled") node[key] = Boolean(value);
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

// 1, 2 or 5 times a power of ten: ticks a reader can add up in their head.
export function niceTicks(low, high, count = 5) {
  if (!(high > low)) high = low + 1;
  const raw = (high - low) / Math.max(1, count);
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * power).find((s) => s >= raw) || raw;
  const ticks = [];
  for (let t = Math.floor(low / step) * step; t <= high + step * 1e-9; t += step) {
    ticks.push(Number(t.toFixed(10)));
  }
  if (ticks[ticks.length - 1] < high) ticks.push(Number((ticks[ticks.length - 1] + step).toFixed(10)));
  return ticks;
}

export function linear([d0, d1], [r0, r1]) {
  const span = d1 - d0 || 1;
  return (value) => r0 + ((value - d0) / span) * (r1 - r0);
}

export function shorten(text, max) {
  const s = String(text);
  return s.length > max ? `${s.slice(0, max - 1)}…` : s;
}

export const fmt = {
  number: (v) => (v === null || v === undefined ? "—" : Number(v).toLocaleString("en")),
  pct: (v) => (v === null || v === undefined ? "—" : `${(v * 100).toFixed(1)} %`),
  fixed: (digits) => (v) => (v === null || v === undefined ? "—" : Number(v).toFixed(digits)),
};

// One tooltip for the page: a bar or point shows its value on hover and on keyboard focus.
let tooltip = null;
function tooltipNode() {
  if (!tooltip || !tooltip.isConnected) {
    tooltip = el("div", { class: "chart-tooltip", role: "tooltip", hidden: true });
    document.body.append(tooltip);
  }
  return tooltip;
}

function showTooltip(target) {
  const tip = tooltipNode();
  tip.textContent = target.dataset.tip;
  tip.hidden = false;
  const box = target.getBoundingClientRect();
  const left = Math.min(window.scrollX + box.left + box.width / 2, window.scrollX + window.innerWidth - 260);
  tip.style.left = `${Math.max(window.scrollX + 4, left)}px`;
  tip.style.top = `${window.scrollY + box.top - tip.offsetHeight - 6}px`;
}

function hideTooltip() {
  if (tooltip) tooltip.hidden = true;
}

// Marks a bar or point: focusable, titled, its value in a data attribute a test can read.
export function mark(node, { tip, key, value }) {
  node.setAttribute("tabindex", "0");
  node.dataset.tip = tip;
  node.dataset.key = key;
  if (value !== undefined && value !== null) node.dataset.value = String(value);
  node.append(svg("title", {}, tip));
  for (const type of ["mouseenter", "focus"]) node.addEventListener(type, () => showTooltip(node));
  for (const type of ["mouseleave", "blur"]) node.addEventListener(type, hideTooltip);
  return node;
}

export function axisLabel(text, attrs) {
  return svg("text", { class: "axis-label", "text-anchor": "middle", ...attrs }, text);
}

export function dataTable(name, columns, rows) {
  const head = el("tr", {}, columns.map((c) => el("th", { scope: "col" }, c)));
  const body = rows.map((row) => el("tr", {}, row.map((cell, i) => el(i ? "td" : "th", i ? {} : { scope: "row" }, cell))));
  return el(
    "details",
    { class: "chart-table", dataset: { key: `table:${name}` } },
    el("summary", {}, "Table"),
    el("table", { class: "grid", dataset: { table: name } }, el("thead", {}, head), el("tbody", {}, body)),
  );
}

export function legend(series) {
  if (series.length < 2) return null;
  return el(
    "ul",
    { class: "legend" },
    series.map((s, i) => el("li", {}, el("span", { class: `swatch ${s.cls || `s${i}`}`, "aria-hidden": "true" }), s.name)),
  );
}

// The figure around a chart: the title as its caption, the SVG named for screen readers, the
// legend, a note, and the table toggle.
export function figure({ name, title, summary, node, series = [], table, note = null }) {
  node.setAttribute("role", "img");
  node.setAttribute("aria-label", `${title}. ${summary}`);
  node.dataset.chart = name;
  node.classList.add("chart-svg");
  return el(
    "figure",
    { class: "chart", dataset: { figure: name } },
    el("figcaption", {}, title),
    legend(series),
    el("div", { class: "chart-scroll" }, node),
    note ? el("p", { class: "note" }, note) : null,
    table,
  );
}
