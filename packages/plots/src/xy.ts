// The one chart engine: axes, grid, title, legend, series (markers and/or lines), bands and annotations.
// The named charts in charts.ts only translate domain data into an XyChartSpec.

import {
  formatTick,
  isPlottable,
  linearScale,
  logScale,
  niceLinearDomain,
  niceLogDomain,
  type Scale,
  type ScaleType,
  type Tick,
} from "./scale.ts";
import { colorAt, el, escapeXml, fmt, starPath } from "./svg.ts";

export interface ChartOptions {
  width?: number;
  height?: number;
  title?: string;
  xLabel?: string;
  yLabel?: string;
}

export interface XyPoint {
  x: number;
  y: number;
  /** Hover text for this point (an SVG <title>). */
  tip?: string;
}

export interface XySeries {
  label: string;
  points: XyPoint[];
  color?: string;
  /** Draw a circle.pt per point (default true). */
  markers?: boolean;
  /** Connect points in x order (default true). */
  line?: boolean;
  dashed?: boolean;
  /** Extra legend text, e.g. a warning flag. */
  legendNote?: string;
  /** Extra class on the legend entry (e.g. "edge"). */
  legendClass?: string;
  /** Leave out of the legend. */
  hideInLegend?: boolean;
}

export interface XyBand {
  label: string;
  /** Points of the band: x with lower and upper y. */
  points: { x: number; lower: number; upper: number }[];
  color?: string;
}

export interface XyMarker {
  /** Series this marker belongs to (data-series attribute, colour). */
  series: string;
  x: number;
  y: number;
  /** "star": an optimum; "edge-up"/"edge-down": an optimum on the grid's top/bottom edge (a red arrow). */
  kind: "star" | "edge-up" | "edge-down";
  color?: string;
  tip?: string;
  /** Draw a dashed vertical tick from the x axis up to the marker. */
  vertical?: boolean;
}

export interface XyChartSpec extends ChartOptions {
  xType: ScaleType;
  yType: ScaleType;
  series: XySeries[];
  bands?: XyBand[];
  markers?: XyMarker[];
  /** Lines of text drawn inside the plot (e.g. the fitted law), top-left unless notesAt says otherwise. */
  notes?: string[];
  notesAt?: "top-left" | "bottom-left";
  /** Message shown when there is nothing to draw. */
  emptyMessage?: string;
}

const FONT = "font-family:system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif";

/** Render an x/y chart to a standalone SVG string. */
export function xyChart(spec: XyChartSpec): string {
  const width = spec.width ?? 640;
  const height = spec.height ?? 400;
  const ok = (p: { x: number; y: number }) => isPlottable(spec.xType, p.x) && isPlottable(spec.yType, p.y);

  // Drop points an axis cannot show (NaN, ±∞, ≤ 0 on a log axis) and count them for a note.
  let skipped = 0;
  const series = spec.series.map((s, i) => {
    const points = s.points.filter((p) => {
      const good = ok(p);
      if (!good) skipped++;
      return good;
    });
    return { ...s, points, color: s.color ?? colorAt(i) };
  });
  const bands = (spec.bands ?? []).map((b) => ({
    ...b,
    points: b.points.filter((p) => ok({ x: p.x, y: p.lower }) && ok({ x: p.x, y: p.upper })),
  }));
  const markers = (spec.markers ?? []).filter(ok);

  const xs: number[] = [];
  const ys: number[] = [];
  for (const s of series)
    for (const p of s.points) {
      xs.push(p.x);
      ys.push(p.y);
    }
  for (const b of bands)
    for (const p of b.points) {
      xs.push(p.x);
      ys.push(p.lower, p.upper);
    }
  for (const m of markers) {
    xs.push(m.x);
    ys.push(m.y);
  }

  const legendItems = series.filter((s) => !s.hideInLegend);
  const legendWidth =
    legendItems.length > 0 ? Math.min(200, 40 + 7 * Math.max(...legendItems.map(legendText).map((t) => t.length))) : 0;
  const margin = {
    top: spec.title ? 34 : 14,
    right: 16 + legendWidth,
    bottom: spec.xLabel ? 48 : 32,
    left: spec.yLabel ? 66 : 52,
  };
  const plotW = Math.max(40, width - margin.left - margin.right);
  const plotH = Math.max(40, height - margin.top - margin.bottom);

  const parts: string[] = [];
  parts.push(el("rect", { class: "bg", x: 0, y: 0, width, height, fill: "#fff" }));
  if (spec.title) {
    parts.push(
      el(
        "text",
        { class: "title", x: margin.left, y: 20, "font-size": 14, "font-weight": 600, fill: "#222" },
        escapeXml(spec.title),
      ),
    );
  }

  if (xs.length === 0) {
    const msg = spec.emptyMessage ?? "No data to plot";
    const detail = skipped > 0 ? ` (${skipped} point${skipped === 1 ? "" : "s"} could not be placed on the axes)` : "";
    parts.push(
      el("rect", { x: margin.left, y: margin.top, width: plotW, height: plotH, fill: "#fafafa", stroke: "#ddd" }),
      el(
        "text",
        {
          class: "empty-msg",
          x: margin.left + plotW / 2,
          y: margin.top + plotH / 2,
          "text-anchor": "middle",
          "font-size": 13,
          fill: "#666",
        },
        escapeXml(msg + detail),
      ),
    );
    return wrap(width, height, parts, spec.title);
  }

  const x = makeScale(spec.xType, xs, [margin.left, margin.left + plotW]);
  const y = makeScale(spec.yType, ys, [margin.top + plotH, margin.top]);

  parts.push(axes(x, y, margin.left, margin.top, plotW, plotH, spec.xLabel, spec.yLabel));

  // Clip data to the plot area so a band or line never paints over the axes.
  const clipId = `clip${Math.random().toString(36).slice(2, 9)}`;
  parts.push(
    `<defs><clipPath id="${clipId}">${el("rect", { x: margin.left, y: margin.top, width: plotW, height: plotH })}</clipPath></defs>`,
  );
  const data: string[] = [];

  for (const [i, b] of bands.entries()) {
    if (b.points.length < 2) continue;
    const sorted = [...b.points].sort((p, q) => p.x - q.x);
    const upper = sorted.map((p) => `${fmt(x.map(p.x))},${fmt(y.map(p.upper))}`);
    const lower = sorted.reverse().map((p) => `${fmt(x.map(p.x))},${fmt(y.map(p.lower))}`);
    data.push(
      el("path", {
        class: "band",
        "data-series": b.label,
        d: `M${upper.join("L")}L${lower.join("L")}Z`,
        fill: b.color ?? colorAt(i),
        "fill-opacity": 0.18,
        stroke: "none",
      }),
    );
  }

  for (const s of series) {
    if (s.line !== false && s.points.length >= 2) {
      const sorted = [...s.points].sort((p, q) => p.x - q.x);
      data.push(
        el("path", {
          class: "line",
          "data-series": s.label,
          "data-points": sorted.length,
          d: `M${sorted.map((p) => `${fmt(x.map(p.x))},${fmt(y.map(p.y))}`).join("L")}`,
          fill: "none",
          stroke: s.color,
          "stroke-width": 1.8,
          "stroke-dasharray": s.dashed ? "6 4" : undefined,
        }),
      );
    }
  }
  for (const s of series) {
    if (s.markers === false) continue;
    for (const p of s.points) {
      const tip = p.tip ?? `${s.label}: x=${formatTick(p.x)}, y=${formatTick(p.y)}`;
      data.push(
        el(
          "circle",
          {
            class: "pt",
            "data-series": s.label,
            "data-x": p.x,
            "data-y": p.y,
            cx: x.map(p.x),
            cy: y.map(p.y),
            r: 3.5,
            fill: s.color,
            stroke: "#fff",
            "stroke-width": 1,
          },
          `<title>${escapeXml(tip)}</title>`,
        ),
      );
    }
  }
  for (const [i, m] of markers.entries()) {
    const color = m.color ?? series.find((s) => s.label === m.series)?.color ?? colorAt(i);
    const cx = x.map(m.x);
    const cy = y.map(m.y);
    if (m.vertical) {
      data.push(
        el("line", {
          class: "opt-tick",
          "data-series": m.series,
          x1: cx,
          x2: cx,
          y1: margin.top + plotH,
          y2: cy,
          stroke: color,
          "stroke-dasharray": "3 3",
          "stroke-width": 1.2,
        }),
      );
    }
    if (m.kind !== "star") {
      // An arrow from the point toward where the optimum may lie, beyond the grid.
      const dir = m.kind === "edge-up" ? -1 : 1;
      const tipY = cy + dir * 22;
      data.push(
        el(
          "path",
          {
            class: `edge-mark ${m.kind}`,
            "data-series": m.series,
            "data-x": m.x,
            d: `M${fmt(cx)},${fmt(cy + dir * 7)}L${fmt(cx)},${fmt(tipY)}M${fmt(cx - 5)},${fmt(tipY - dir * 6)}L${fmt(cx)},${fmt(tipY)}L${fmt(cx + 5)},${fmt(tipY - dir * 6)}`,
            fill: "none",
            stroke: "#b00020",
            "stroke-width": 2,
          },
          `<title>${escapeXml(m.tip ?? `${m.series}: on the grid edge at x=${formatTick(m.x)}`)}</title>`,
        ),
      );
      continue;
    }
    data.push(
      el(
        "path",
        {
          class: "opt",
          "data-series": m.series,
          "data-x": m.x,
          d: starPath(cx, cy, 8),
          fill: color,
          stroke: "#222",
          "stroke-width": 0.8,
        },
        `<title>${escapeXml(m.tip ?? `${m.series}: optimum at x=${formatTick(m.x)}`)}</title>`,
      ),
    );
  }
  parts.push(`<g clip-path="url(#${clipId})">${data.join("")}</g>`);

  const notes = [...(spec.notes ?? [])];
  if (skipped > 0)
    notes.push(
      `${skipped} point${skipped === 1 ? "" : "s"} skipped (not finite${spec.xType === "log" || spec.yType === "log" ? " or ≤ 0 on a log axis" : ""})`,
    );
  const noteTop = spec.notesAt === "bottom-left" ? margin.top + plotH - 8 - 16 * notes.length : margin.top;
  notes.forEach((n, i) => {
    parts.push(
      el(
        "text",
        {
          class: i >= (spec.notes?.length ?? 0) ? "note skipped" : "note",
          x: margin.left + 8,
          y: noteTop + 16 + i * 16,
          "font-size": 12,
          fill: "#333",
          // a white halo keeps the text readable over bands and lines
          stroke: "#fff",
          "stroke-width": 3,
          "paint-order": "stroke",
        },
        escapeXml(n),
      ),
    );
  });

  if (legendItems.length > 0) parts.push(legend(legendItems, margin.left + plotW + 14, margin.top));
  return wrap(width, height, parts, spec.title);
}

function legendText(s: XySeries): string {
  return s.legendNote ? `${s.label} ${s.legendNote}` : s.label;
}

function legend(items: (XySeries & { color: string })[], left: number, top: number): string {
  const rows = items.map((s, i) => {
    const yy = top + 8 + i * 18;
    const swatch =
      s.markers === false
        ? el("line", {
            x1: left,
            x2: left + 16,
            y1: yy,
            y2: yy,
            stroke: s.color,
            "stroke-width": 2,
            "stroke-dasharray": s.dashed ? "4 3" : undefined,
          })
        : el("circle", { cx: left + 8, cy: yy, r: 4, fill: s.color });
    const text = el(
      "text",
      { x: left + 22, y: yy + 4, "font-size": 12, fill: s.legendClass ? "#b00020" : "#222" },
      escapeXml(legendText(s)),
    );
    return el(
      "g",
      { class: s.legendClass ? `legend-item ${s.legendClass}` : "legend-item", "data-series": s.label },
      swatch + text,
    );
  });
  return el("g", { class: "legend" }, rows.join(""));
}

function makeScale(type: ScaleType, values: number[], range: [number, number]): Scale {
  let lo = Math.min(...values);
  let hi = Math.max(...values);
  if (type === "log") return logScale(niceLogDomain(lo, hi), range);
  [lo, hi] = niceLinearDomain(lo, hi);
  return linearScale([lo, hi], range);
}

function axes(
  x: Scale,
  y: Scale,
  left: number,
  top: number,
  w: number,
  h: number,
  xLabel?: string,
  yLabel?: string,
): string {
  const out: string[] = [];
  const bottom = top + h;
  out.push(el("rect", { class: "frame", x: left, y: top, width: w, height: h, fill: "none", stroke: "#999" }));
  const xLabels = tickLabels(x);
  const yLabels = tickLabels(y);
  for (const t of axisTicks(x)) {
    const px = x.map(t.value);
    if (!Number.isFinite(px)) continue;
    if (t.major) out.push(el("line", { class: "grid", x1: px, x2: px, y1: top, y2: bottom, stroke: "#eee" }));
    out.push(
      el("line", {
        class: t.major ? "tick x major" : "tick x minor",
        x1: px,
        x2: px,
        y1: bottom,
        y2: bottom + (t.major ? 5 : 3),
        stroke: "#666",
      }),
    );
    if (t.major) {
      out.push(
        el(
          "text",
          {
            class: "tick-label x",
            "data-value": t.value,
            x: px,
            y: bottom + 17,
            "text-anchor": "middle",
            "font-size": 11,
            fill: "#444",
          },
          escapeXml(xLabels.get(t.value) ?? ""),
        ),
      );
    }
  }
  for (const t of axisTicks(y)) {
    const py = y.map(t.value);
    if (!Number.isFinite(py)) continue;
    if (t.major) out.push(el("line", { class: "grid", x1: left, x2: left + w, y1: py, y2: py, stroke: "#eee" }));
    out.push(
      el("line", {
        class: t.major ? "tick y major" : "tick y minor",
        x1: left - (t.major ? 5 : 3),
        x2: left,
        y1: py,
        y2: py,
        stroke: "#666",
      }),
    );
    if (t.major) {
      out.push(
        el(
          "text",
          {
            class: "tick-label y",
            "data-value": t.value,
            x: left - 8,
            y: py + 4,
            "text-anchor": "end",
            "font-size": 11,
            fill: "#444",
          },
          escapeXml(yLabels.get(t.value) ?? ""),
        ),
      );
    }
  }
  if (xLabel)
    out.push(
      el(
        "text",
        {
          class: "axis-label x",
          x: left + w / 2,
          y: bottom + 38,
          "text-anchor": "middle",
          "font-size": 12,
          fill: "#222",
        },
        escapeXml(xLabel),
      ),
    );
  if (yLabel) {
    const cy = top + h / 2;
    out.push(
      el(
        "text",
        {
          class: "axis-label y",
          x: 16,
          y: cy,
          transform: `rotate(-90 16 ${fmt(cy)})`,
          "text-anchor": "middle",
          "font-size": 12,
          fill: "#222",
        },
        escapeXml(yLabel),
      ),
    );
  }
  return el("g", { class: "axes" }, out.join(""));
}

/**
 * The axis's ticks with the first (left-most, bottom-most) one labelled: on a log axis it is often a
 * 2 or 5 between decades, and a reader should not have to count ticks to know where the axis
 * starts. It stays unlabelled only when the next label is too close to fit (under 34 px).
 */
function axisTicks(scale: Scale): Tick[] {
  const ticks = scale.ticks().map((t) => ({ ...t }));
  const first = ticks[0];
  if (first && !first.major) {
    const next = ticks.find((t) => t.major);
    const gap = next ? Math.abs(scale.map(next.value) - scale.map(first.value)) : Number.POSITIVE_INFINITY;
    if (gap >= 34) first.major = true;
  }
  return ticks;
}

/** Major tick labels; on a log axis, if any label needs an exponent then all use one (1e-3, 1e-2, not 1e-3, 0.01). */
function tickLabels(scale: Scale): Map<number, string> {
  const majors = axisTicks(scale).filter((t) => t.major);
  const plain = majors.map((t) => formatTick(t.value));
  const useExp = scale.type === "log" && plain.some((l) => l.includes("e"));
  return new Map(majors.map((t, i) => [t.value, useExp ? expLabel(t.value) : plain[i]!]));
}

function expLabel(v: number): string {
  const [m, e] = v.toExponential().split("e");
  return `${Number(Number(m).toPrecision(3))}e${Number(e)}`;
}

function wrap(width: number, height: number, parts: string[], title?: string): string {
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" class="ps-chart" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" style="${FONT}" role="img"${title ? ` aria-label="${escapeXml(title)}"` : ""}>` +
    parts.join("") +
    "</svg>"
  );
}
