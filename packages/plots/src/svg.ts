// Tiny SVG string helpers: escaping, attributes, colours.

/** Escape text for use in SVG/XML text nodes and attribute values. */
export function escapeXml(text: string): string {
  return text
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;")
    .replace(/'/g, "&#39;");
}

export type Attrs = Record<string, string | number | undefined | null | false>;

export function attrs(a: Attrs): string {
  let out = "";
  for (const [k, v] of Object.entries(a)) {
    if (v === undefined || v === null || v === false) continue;
    // data-* carry the raw value for tests and tooltips; geometry is rounded to keep files small.
    const text = typeof v === "number" ? (k.startsWith("data-") ? String(v) : fmt(v)) : v;
    out += ` ${k}="${escapeXml(text)}"`;
  }
  return out;
}

export function el(tag: string, a: Attrs, children?: string): string {
  return children === undefined ? `<${tag}${attrs(a)}/>` : `<${tag}${attrs(a)}>${children}</${tag}>`;
}

/** Pixel coordinates with two decimals keep files small and diffs stable. */
export function fmt(v: number): string {
  return Number.isInteger(v) ? String(v) : String(Math.round(v * 100) / 100);
}

/** Colour-blind-friendly categorical palette (Okabe–Ito, then Tableau extras). */
export const PALETTE = [
  "#0072B2",
  "#D55E00",
  "#009E73",
  "#CC79A7",
  "#E69F00",
  "#56B4E9",
  "#7f7f7f",
  "#8c564b",
  "#bcbd22",
  "#1f3b73",
] as const;

export function colorAt(i: number): string {
  return PALETTE[((i % PALETTE.length) + PALETTE.length) % PALETTE.length]!;
}

/** Five-pointed star path centred at (cx, cy). */
export function starPath(cx: number, cy: number, r: number): string {
  const pts: string[] = [];
  for (let i = 0; i < 10; i++) {
    const rad = i % 2 === 0 ? r : r * 0.45;
    const ang = -Math.PI / 2 + (i * Math.PI) / 5;
    pts.push(`${fmt(cx + rad * Math.cos(ang))},${fmt(cy + rad * Math.sin(ang))}`);
  }
  return `M${pts.join("L")}Z`;
}
