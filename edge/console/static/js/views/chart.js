// The portfolio's bar chart: outstanding principal per delinquency bucket, as inline SVG built
// with createElementNS (no library, no inline style: the CSP forbids it, classes colour it).

import { money } from "../dom.js";

const SVG = "http://www.w3.org/2000/svg";
const BUCKETS = ["current", "1-30", "31-60", "61-90", "90+"];
const WIDTH = 640;
const HEIGHT = 280;
const TOP = 34; // room for the value above the tallest bar
const BOTTOM = 40; // room for the bucket names
const SIDE = 16;

function svg(tag, attrs = {}, text = null) {
  const node = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, String(value));
  if (text !== null) node.textContent = text;
  return node;
}

export function bucketChart(buckets) {
  const byName = new Map(buckets.map((b) => [b.bucket, b]));
  const rows = BUCKETS.map((name) => byName.get(name) ?? { bucket: name, accounts: 0, outstanding_principal: "0.00" });
  // Heights only: the figures shown are the API's decimal strings, never these floats.
  const largest = Math.max(...rows.map((r) => Number(r.outstanding_principal)), 0);
  const slot = (WIDTH - 2 * SIDE) / rows.length;
  const usable = HEIGHT - TOP - BOTTOM;
  const chart = svg("svg", {
    viewBox: `0 0 ${WIDTH} ${HEIGHT}`,
    class: "chart",
    role: "img",
    "aria-labelledby": "chart-title chart-desc",
  });
  chart.append(svg("title", { id: "chart-title" }, "Outstanding principal by delinquency bucket"));
  chart.append(
    svg("desc", { id: "chart-desc" }, rows.map((r) => `${r.bucket}: ${money(r.outstanding_principal)} (${r.accounts} accounts)`).join("; ")),
  );
  chart.append(svg("line", { x1: SIDE, x2: WIDTH - SIDE, y1: HEIGHT - BOTTOM, y2: HEIGHT - BOTTOM, class: "axis" }));
  rows.forEach((row, index) => {
    const value = Number(row.outstanding_principal);
    const height = largest > 0 ? Math.max((value / largest) * usable, value > 0 ? 2 : 0) : 0;
    const x = SIDE + index * slot + slot * 0.15;
    const y = HEIGHT - BOTTOM - height;
    const group = svg("g", { class: `bar bucket-${index}`, "data-bucket": row.bucket });
    group.append(svg("rect", { x, y, width: slot * 0.7, height, rx: 3 }));
    group.append(svg("text", { x: x + slot * 0.35, y: y - 8, class: "value", "text-anchor": "middle" }, money(row.outstanding_principal)));
    group.append(svg("text", { x: x + slot * 0.35, y: HEIGHT - BOTTOM + 18, class: "label", "text-anchor": "middle" }, row.bucket));
    group.append(
      svg("text", { x: x + slot * 0.35, y: HEIGHT - BOTTOM + 34, class: "count", "text-anchor": "middle" }, `${row.accounts} acc.`),
    );
    chart.append(group);
  });
  return chart;
}
