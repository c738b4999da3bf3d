// Hand-written SVG charts for the dataset page (no library: the machine is offline). Each chart
// answers a <figure>: a title, axis labels with units, tick labels, an accessible name, bars or
// points a keyboard reaches (Tab) that show their value on focus and hover, and a "Table" toggle
// with the same numbers. Tests count `svg[data-chart=NAME] rect.bar` and `circle.point`.
//
//   barChart({name, title, categories, series: [{name, values, low?, high?, cls?}], horizontal,
//             stacked, valueLabel, categoryLabel, format, max, note, keys?, extra?: [{name, values}]})
//   histogram({...barChart, bins: [{label, value}]})
//   lineChart({name, title, xLabel, yLabel, series: [{name, points: [{x, y, low?, high?}]}], time, format})
//   scatterChart({name, title, xLabel, yLabel, points: [{x, y, label, cls?}], trend, xFormat, yFormat})

import { axisLabel, dataTable, figure, fmt, linear, mark, niceTicks, shorten, svg } from "./charts_core.js";

const WIDTH = 720;
const FONT = 6.6; // px per character of a 12 px label, to size the label column

function extent(values, max) {
  const found = values.filter((v) => v !== null && v !== undefined && Number.isFinite(v));
  const top = max ?? Math.max(0, ...found);
  return niceTicks(0, top > 0 ? top : 1, 5);
}

function seriesCells(series, index, format) {
  return series.flatMap((s) => {
    const cells = [format(s.values[index])];
    if (s.low || s.high) cells.push(format(s.low?.[index]), format(s.high?.[index]));
    return cells;
  });
}

function seriesColumns(series) {
  return series.flatMap((s) => (s.low || s.high ? [s.name, `${s.name}: 95 % low`, `${s.name}: 95 % high`] : [s.name]));
}

function errorBar(group, x1, x2, y1, y2, vertical) {
  const cap = 4;
  group.append(svg("line", { class: "errorbar", x1, x2, y1, y2 }));
  if (vertical) {
    for (const y of [y1, y2]) group.append(svg("line", { class: "errorbar", x1: x1 - cap, x2: x1 + cap, y1: y, y2: y }));
  } else {
    for (const x of [x1, x2]) group.append(svg("line", { class: "errorbar", x1: x, x2: x, y1: y1 - cap, y2: y1 + cap }));
  }
}

export function barChart(options) {
  const { name, title, categories, series, horizontal = true, stacked = false, format = fmt.number } = options;
  const keys = options.keys || categories;
  const totals = categories.map((_, i) => (stacked ? series.reduce((sum, s) => sum + (s.values[i] || 0), 0) : 0));
  const highs = series.flatMap((s) => [...s.values, ...(s.high || [])]);
  const ticks = extent(stacked ? totals : highs, options.max);
  const top = ticks[ticks.length - 1];
  const node = horizontal ? horizontalBars(options, keys, ticks, top) : verticalBars(options, keys, ticks, top);
  const bars = node.querySelectorAll("rect.bar").length;
  const extra = options.extra || []; // more table columns: [{name, values, format?}]
  const rows = categories.map((c, i) => [c, ...seriesCells(series, i, format), ...extra.map((e) => (e.format || fmt.number)(e.values[i]))]);
  return figure({
    name,
    title,
    node,
    series,
    summary: `${bars} bars over ${categories.length} ${options.categoryLabel.toLowerCase()}; the table below lists the numbers`,
    note: options.note,
    table: dataTable(name, [options.categoryLabel, ...seriesColumns(series), ...extra.map((e) => e.name)], rows),
  });
}

function barTip(options, s, category, value, i) {
  const interval = s.low && s.high && s.low[i] !== null && s.high[i] !== null
    ? ` (95 % ${options.format(s.low[i])}–${options.format(s.high[i])})` : "";
  const who = options.series.length > 1 ? `${s.name}, ` : "";
  return `${category}: ${who}${options.format(value)}${interval}`;
}

function horizontalBars(options, keys, ticks, top) {
  const { categories, series, stacked } = options;
  options.format = options.format || fmt.number;
  const longest = Math.max(String(options.categoryLabel).length, ...categories.map((c) => Math.min(34, String(c).length)));
  const labelWidth = Math.min(230, Math.max(60, longest * FONT + 12));
  const rowH = stacked ? 24 : Math.max(20, series.length * 12 + 8);
  const [left, right, topPad, bottom] = [labelWidth, 28, 24, 46];
  const height = topPad + categories.length * rowH + bottom;
  const x = linear([0, top], [left, WIDTH - right]);
  const root = svg("svg", { viewBox: `0 0 ${WIDTH} ${height}`, width: WIDTH, height, class: "horizontal" });
  const plotBottom = height - bottom;
  for (const t of ticks) {
    root.append(svg("line", { class: "grid", x1: x(t), x2: x(t), y1: topPad, y2: plotBottom }));
    root.append(svg("text", { class: "tick", x: x(t), y: plotBottom + 16, "text-anchor": "middle" }, options.format(t)));
  }
  root.append(axisLabel(options.valueLabel, { x: (left + WIDTH - right) / 2, y: height - 8 }));
  root.append(axisLabel(options.categoryLabel, { x: left - 6, y: 14, "text-anchor": "end" }));
  categories.forEach((category, i) => {
    const y0 = topPad + i * rowH;
    const label = svg("text", { class: "category", x: left - 6, y: y0 + rowH / 2 + 4, "text-anchor": "end" }, shorten(category, 34));
    label.append(svg("title", {}, category));
    root.append(label);
    let cumulative = 0;
    const barH = stacked ? rowH - 8 : (rowH - 8) / series.length;
    series.forEach((s, j) => {
      const value = s.values[i];
      if (value === null || value === undefined || (stacked && !value)) return;
      const start = stacked ? cumulative : 0;
      cumulative += stacked ? value : 0;
      const y = y0 + 4 + (stacked ? 0 : j * barH);
      const w = Math.max(1, x(start + value) - x(start));
      const rect = svg("rect", { class: `bar ${s.cls || `s${j}`}`, x: x(start), y, width: w, height: barH - 1 });
      rect.dataset.series = s.name;
      rect.dataset.category = category;
      root.append(mark(rect, { tip: barTip(options, s, category, value, i), key: `${options.name}:${keys[i]}:${s.name}`, value }));
      if (!stacked && s.low && s.high && s.low[i] !== null && s.high[i] !== null && s.low[i] !== undefined) {
        const cy = y + (barH - 1) / 2;
        errorBar(root, x(s.low[i]), x(Math.min(s.high[i], top)), cy, cy, false);
      }
    });
  });
  root.append(svg("line", { class: "axis", x1: left, x2: left, y1: topPad, y2: plotBottom }));
  return root;
}

function verticalBars(options, keys, ticks, top) {
  const { categories, series } = options;
  options.format = options.format || fmt.number;
  const longest = Math.max(0, ...categories.map((c) => String(c).length));
  const rotate = longest * FONT * categories.length > WIDTH - 80;
  const [left, right, topPad] = [64, 16, 10];
  const bottom = rotate ? 40 + Math.min(16, longest) * 4.5 : 50;
  const height = 250 + bottom;
  const plotBottom = height - bottom;
  const y = linear([0, top], [plotBottom, topPad]);
  const band = (WIDTH - left - right) / Math.max(1, categories.length);
  const every = Math.ceil(categories.length / 24);
  const root = svg("svg", { viewBox: `0 0 ${WIDTH} ${height}`, width: WIDTH, height, class: "vertical" });
  for (const t of ticks) {
    root.append(svg("line", { class: "grid", x1: left, x2: WIDTH - right, y1: y(t), y2: y(t) }));
    root.append(svg("text", { class: "tick", x: left - 6, y: y(t) + 4, "text-anchor": "end" }, options.format(t)));
  }
  root.append(axisLabel(options.valueLabel, { x: 14, y: (topPad + plotBottom) / 2, transform: `rotate(-90 14 ${(topPad + plotBottom) / 2})` }));
  root.append(axisLabel(options.categoryLabel, { x: (left + WIDTH - right) / 2, y: height - 6 }));
  const barW = (band * 0.8) / series.length;
  categories.forEach((category, i) => {
    const x0 = left + i * band + band * 0.1;
    if (i % every === 0) {
      const cx = left + i * band + band / 2;
      const attrs = rotate
        ? { x: cx, y: plotBottom + 12, "text-anchor": "end", transform: `rotate(-35 ${cx} ${plotBottom + 12})` }
        : { x: cx, y: plotBottom + 16, "text-anchor": "middle" };
      root.append(svg("text", { class: "tick category", ...attrs }, shorten(category, 16)));
    }
    series.forEach((s, j) => {
      const value = s.values[i];
      if (value === null || value === undefined) return;
      const h = Math.max(1, plotBottom - y(value));
      const rect = svg("rect", { class: `bar ${s.cls || `s${j}`}`, x: x0 + j * barW, y: plotBottom - h, width: Math.max(1, barW - 1), height: h });
      rect.dataset.series = s.name;
      rect.dataset.category = category;
      root.append(mark(rect, { tip: barTip(options, s, category, value, i), key: `${options.name}:${keys[i]}:${s.name}`, value }));
      if (s.low && s.high && s.low[i] !== null && s.high[i] !== null && s.low[i] !== undefined) {
        const cx = x0 + j * barW + barW / 2;
        errorBar(root, cx, cx, y(s.low[i]), y(Math.min(s.high[i], top)), true);
      }
    });
  });
  root.append(svg("line", { class: "axis", x1: left, x2: WIDTH - right, y1: plotBottom, y2: plotBottom }));
  return root;
}

// A histogram is a vertical bar chart of counts over bins named by their range.
export function histogram(options) {
  return barChart({
    ...options,
    horizontal: false,
    categories: options.bins.map((b) => b.label),
    series: [{ name: options.valueLabel, values: options.bins.map((b) => b.value) }],
  });
}

function plotFrame(options, xTicks, yTicks, xFormat, yFormat) {
  const [left, right, topPad, bottom] = [64, 20, 12, 50];
  const height = 300;
  const plotBottom = height - bottom;
  const x = linear([xTicks[0], xTicks[xTicks.length - 1]], [left, WIDTH - right]);
  const y = linear([yTicks[0], yTicks[yTicks.length - 1]], [plotBottom, topPad]);
  const root = svg("svg", { viewBox: `0 0 ${WIDTH} ${height}`, width: WIDTH, height });
  for (const t of yTicks) {
    root.append(svg("line", { class: "grid", x1: left, x2: WIDTH - right, y1: y(t), y2: y(t) }));
    root.append(svg("text", { class: "tick", x: left - 6, y: y(t) + 4, "text-anchor": "end" }, yFormat(t)));
  }
  for (const t of xTicks) {
    root.append(svg("line", { class: "grid", x1: x(t), x2: x(t), y1: topPad, y2: plotBottom }));
    root.append(svg("text", { class: "tick", x: x(t), y: plotBottom + 16, "text-anchor": "middle" }, xFormat(t)));
  }
  root.append(svg("line", { class: "axis", x1: left, x2: WIDTH - right, y1: plotBottom, y2: plotBottom }));
  root.append(svg("line", { class: "axis", x1: left, x2: left, y1: topPad, y2: plotBottom }));
  root.append(axisLabel(options.xLabel, { x: (left + WIDTH - right) / 2, y: height - 8 }));
  root.append(axisLabel(options.yLabel, { x: 14, y: (topPad + plotBottom) / 2, transform: `rotate(-90 14 ${(topPad + plotBottom) / 2})` }));
  return { root, x, y };
}

function timeTicks(low, high) {
  if (high <= low) return [low - 3600e3, low, low + 3600e3];
  const step = (high - low) / 4;
  return [0, 1, 2, 3, 4].map((i) => low + i * step);
}

const dateTime = (ms) => new Date(ms).toLocaleString("en-GB", { day: "numeric", month: "short", hour: "2-digit", minute: "2-digit" });

export function lineChart(options) {
  const { name, title, series, time = true } = options;
  const format = options.format || fmt.number;
  const xFormat = time ? dateTime : options.xFormat || fmt.number;
  const xs = series.flatMap((s) => s.points.map((p) => p.x));
  const ys = series.flatMap((s) => s.points.flatMap((p) => [p.y, p.high]));
  const xTicks = time ? timeTicks(Math.min(...xs), Math.max(...xs)) : niceTicks(Math.min(0, ...xs), Math.max(...xs), 5);
  const yTicks = extent(ys, options.max);
  const { root, x, y } = plotFrame(options, xTicks, yTicks, xFormat, format);
  const rows = [];
  series.forEach((s, j) => {
    const cls = s.cls || `s${j}`;
    const d = s.points.map((p, i) => `${i ? "L" : "M"}${x(p.x).toFixed(1)},${y(p.y).toFixed(1)}`).join(" ");
    if (s.points.length > 1) root.append(svg("path", { class: `line ${cls}`, d }));
    s.points.forEach((p, i) => {
      if (p.low !== undefined && p.low !== null && p.high !== null && p.high !== undefined) {
        errorBar(root, x(p.x), x(p.x), y(p.low), y(p.high), true);
      }
      const tip = `${s.name}, ${xFormat(p.x)}: ${format(p.y)}${p.low !== undefined && p.low !== null ? ` (95 % ${format(p.low)}–${format(p.high)})` : ""}`;
      const point = svg("circle", { class: `point ${cls}`, cx: x(p.x), cy: y(p.y), r: 4.5 });
      point.dataset.series = s.name;
      root.append(mark(point, { tip, key: `${name}:${s.name}:${i}`, value: p.y }));
      rows.push([s.name, xFormat(p.x), format(p.y), format(p.low), format(p.high)]);
    });
  });
  const count = rows.length;
  return figure({
    name, title, node: root, series, note: options.note,
    summary: `${count} points in ${series.length} series; the table below lists the numbers`,
    table: dataTable(name, ["Series", options.xLabel, options.yLabel, "95 % low", "95 % high"], rows),
  });
}

export function scatterChart(options) {
  const { name, title, points, trend } = options;
  const xFormat = options.xFormat || fmt.number;
  const yFormat = options.yFormat || fmt.number;
  const xs = points.map((p) => p.x);
  const xTicks = niceTicks(Math.min(0, ...xs), Math.max(1, ...xs), 5);
  const yTicks = extent(points.map((p) => p.y), options.max);
  const { root, x, y } = plotFrame(options, xTicks, yTicks, xFormat, yFormat);
  if (trend && trend.slope !== null && trend.slope !== undefined) {
    const [x1, x2] = [xTicks[0], xTicks[xTicks.length - 1]];
    const clamp = (v) => Math.min(yTicks[yTicks.length - 1], Math.max(0, v));
    root.append(svg("line", { class: "trend", x1: x(x1), x2: x(x2), y1: y(clamp(trend.slope * x1 + trend.intercept)), y2: y(clamp(trend.slope * x2 + trend.intercept)) }));
  }
  for (const p of points) {
    const point = svg("circle", { class: `point ${p.cls || "s0"}`, cx: x(p.x), cy: y(p.y), r: 5 });
    const tip = `${p.label}: ${options.xLabel} ${xFormat(p.x)}, ${options.yLabel} ${yFormat(p.y)}`;
    root.append(mark(point, { tip, key: `${name}:${p.label}`, value: p.y }));
  }
  const columns = ["Name", options.xLabel, options.yLabel, ...(options.extraColumns || []).map((c) => c.name)];
  const rows = points.map((p) => [p.label, xFormat(p.x), yFormat(p.y), ...(options.extraColumns || []).map((c) => c.value(p))]);
  return figure({
    name, title, node: root, series: options.series || [], note: options.note,
    summary: `${points.length} points; the table below lists the numbers`,
    table: dataTable(name, columns, rows),
  });
}
