// Power-grid surface (Table 3 of 2408.13359 as a picture): test loss over the Power scheduler's
// a × b, one heat-map panel per token budget T, on one colour scale so panels compare. The best
// cell of each panel is outlined; cells without a finished trial are hatched grey.
import { formatTick } from "./scale.ts";
import { el, escapeXml } from "./svg.ts";

export interface PowerSurfacePanel {
  /** e.g. "T=40k" */
  label: string;
  cells: { powerA: number; powerB: number; loss: number | null; tip?: string }[];
}

export interface PowerSurfaceOptions {
  width?: number;
  height?: number;
  title?: string;
}

/** Light (low loss) to dark (high loss): a perceptually ordered blue ramp. */
const RAMP: [number, number, number][] = [
  [255, 247, 188],
  [161, 218, 180],
  [65, 182, 196],
  [34, 94, 168],
  [12, 44, 132],
];

function rampColor(t: number): string {
  const x = Math.min(1, Math.max(0, t)) * (RAMP.length - 1);
  const i = Math.min(RAMP.length - 2, Math.floor(x));
  const f = x - i;
  const [a, b] = [RAMP[i] as [number, number, number], RAMP[i + 1] as [number, number, number]];
  const c = a.map((v, k) => Math.round(v + f * ((b[k] as number) - v)));
  return `rgb(${c.join(",")})`;
}

export function powerSurfaceChart(panels: PowerSurfacePanel[], opts: PowerSurfaceOptions = {}): string {
  const width = opts.width ?? 640;
  const height = opts.height ?? 320;
  const title = opts.title ?? "Test loss over (a, b) per T";
  const losses = panels
    .flatMap((p) => p.cells.map((c) => c.loss))
    .filter((l): l is number => l != null && Number.isFinite(l));
  const head = el(
    "text",
    { x: width / 2, y: 18, "text-anchor": "middle", class: "title", "font-size": 13 },
    escapeXml(title),
  );
  if (panels.length === 0 || losses.length === 0) {
    return el(
      "svg",
      {
        xmlns: "http://www.w3.org/2000/svg",
        class: "chart surface empty",
        width,
        height,
        viewBox: `0 0 ${width} ${height}`,
      },
      head +
        el(
          "text",
          { x: width / 2, y: height / 2, "text-anchor": "middle", class: "empty", fill: "#666" },
          "No finished power-grid trials yet",
        ),
    );
  }
  const lo = Math.min(...losses);
  const hi = Math.max(...losses);
  const norm = (l: number) => (hi > lo ? (l - lo) / (hi - lo) : 0);
  const top = 34;
  const bottom = 58; // a-axis labels and the colour legend
  const left = 52;
  const gap = 14;
  const panelW = (width - left - gap * (panels.length - 1) - 8) / panels.length;
  const panelH = height - top - bottom;
  let body = head;
  panels.forEach((panel, pi) => {
    const as = [...new Set(panel.cells.map((c) => c.powerA))].sort((x, y) => x - y);
    const bs = [...new Set(panel.cells.map((c) => c.powerB))].sort((x, y) => y - x); // least negative on top
    const x0 = left + pi * (panelW + gap);
    const cw = panelW / Math.max(1, as.length);
    const ch = (panelH - 16) / Math.max(1, bs.length);
    const finite = panel.cells.filter((c) => c.loss != null && Number.isFinite(c.loss));
    const best = finite.length ? finite.reduce((p, q) => ((q.loss as number) < (p.loss as number) ? q : p)) : null;
    let g = el(
      "text",
      { x: x0 + panelW / 2, y: top + 10, "text-anchor": "middle", class: "panel-title", "font-size": 12 },
      escapeXml(panel.label),
    );
    for (const c of panel.cells) {
      const col = as.indexOf(c.powerA);
      const row = bs.indexOf(c.powerB);
      const x = x0 + col * cw;
      const y = top + 16 + row * ch;
      const ok = c.loss != null && Number.isFinite(c.loss);
      const tip =
        c.tip ?? `a=${c.powerA}, b=${c.powerB}: ${ok ? `loss ${(c.loss as number).toFixed(4)}` : "no result"}`;
      const isBest = best === c;
      g += el(
        "rect",
        {
          class: `cell${isBest ? " best" : ""}`,
          x: x + 1,
          y: y + 1,
          width: Math.max(1, cw - 2),
          height: Math.max(1, ch - 2),
          fill: ok ? rampColor(norm(c.loss as number)) : "#ddd",
          stroke: isBest ? "#D55E00" : "none",
          "stroke-width": isBest ? 3 : 0,
          "data-a": c.powerA,
          "data-b": c.powerB,
          "data-loss": ok ? (c.loss as number) : undefined,
        },
        el("title", {}, escapeXml(tip)),
      );
      if (ok && cw > 34 && ch > 14)
        g += el(
          "text",
          {
            x: x + cw / 2,
            y: y + ch / 2 + 4,
            "text-anchor": "middle",
            "font-size": 10,
            fill: norm(c.loss as number) > 0.55 ? "#fff" : "#111",
            "pointer-events": "none",
          },
          (c.loss as number).toFixed(3),
        );
    }
    as.forEach((a, i) => {
      g += el(
        "text",
        { x: x0 + (i + 0.5) * cw, y: top + panelH + 12, "text-anchor": "middle", "font-size": 10, class: "tick" },
        escapeXml(formatTick(a)),
      );
    });
    g += el("text", { x: x0 + panelW / 2, y: top + panelH + 26, "text-anchor": "middle", "font-size": 11 }, "a");
    if (pi === 0) {
      bs.forEach((b, i) => {
        g += el(
          "text",
          { x: x0 - 4, y: top + 16 + (i + 0.5) * ch + 4, "text-anchor": "end", "font-size": 10, class: "tick" },
          escapeXml(String(b)),
        );
      });
      g += el(
        "text",
        {
          x: 12,
          y: top + 16 + (panelH - 16) / 2,
          "text-anchor": "middle",
          "font-size": 11,
          transform: `rotate(-90 12 ${top + 16 + (panelH - 16) / 2})`,
        },
        "b",
      );
    }
    body += el("g", { class: "panel", "data-label": panel.label }, g);
  });
  // colour legend: low → high loss
  const lw = Math.min(200, width / 3);
  const lx = width - lw - 44;
  const ly = height - 4;
  let legend = "";
  for (let i = 0; i < 20; i++)
    legend += el("rect", {
      x: lx + (i * lw) / 20,
      y: ly - 8,
      width: lw / 20 + 0.5,
      height: 8,
      fill: rampColor(i / 19),
    });
  legend += el("text", { x: lx - 4, y: ly, "text-anchor": "end", "font-size": 10 }, `loss ${lo.toFixed(3)}`);
  legend += el("text", { x: lx + lw + 2, y: ly, "text-anchor": "start", "font-size": 10 }, hi.toFixed(3));
  body += el("g", { class: "legend" }, legend);
  return el(
    "svg",
    {
      xmlns: "http://www.w3.org/2000/svg",
      class: "chart surface",
      width,
      height,
      viewBox: `0 0 ${width} ${height}`,
      "data-panels": panels.length,
    },
    body,
  );
}
