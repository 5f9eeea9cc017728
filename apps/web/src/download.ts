// Figure downloads: every chart on a page gets "SVG" and "PNG" buttons. The charts from
// @powersweep/plots are self-contained SVG (attributes, no page CSS), so the file is the figure as
// drawn; the PNG is that SVG rasterised at twice its size, for slides and papers.

/** A file name from a chart's title: "Test loss vs η per T (β=8)" → "test-loss-vs-η-per-t-β-8". */
export function figureFileName(title: string | null, fallback: string): string {
  const slug = (title ?? "")
    .toLowerCase()
    .replace(/[^\p{L}\p{N}]+/gu, "-")
    .replace(/^-+|-+$/g, "")
    .slice(0, 80);
  return slug || fallback;
}

/** Puts the download buttons under each chart of `root` that has none yet. */
export function addFigureDownloads(root: HTMLElement): void {
  root.querySelectorAll<SVGSVGElement>("svg.ps-chart").forEach((svg, i) => {
    const next = svg.nextElementSibling;
    if (next?.classList.contains("fig-tools")) return;
    const name = figureFileName(svg.getAttribute("aria-label"), `figure-${i + 1}`);
    const tools = document.createElement("div");
    tools.className = "fig-tools";
    tools.innerHTML =
      `<button type="button" data-download="svg" data-name="${name}" aria-label="Download ${name} as SVG">SVG</button>` +
      `<button type="button" data-download="png" data-name="${name}" aria-label="Download ${name} as PNG">PNG</button>`;
    svg.after(tools);
  });
}

function save(blob: Blob, fileName: string): void {
  const url = URL.createObjectURL(blob);
  const a = document.createElement("a");
  a.href = url;
  a.download = fileName;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

async function rasterise(svgText: string, width: number, height: number, scale = 2): Promise<Blob> {
  const img = new Image();
  img.src = `data:image/svg+xml;charset=utf-8,${encodeURIComponent(svgText)}`;
  await img.decode();
  const canvas = document.createElement("canvas");
  canvas.width = Math.round(width * scale);
  canvas.height = Math.round(height * scale);
  const ctx = canvas.getContext("2d");
  if (!ctx) throw new Error("no 2d canvas");
  ctx.fillStyle = "#fff";
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  ctx.drawImage(img, 0, 0, canvas.width, canvas.height);
  return new Promise((resolve, reject) =>
    canvas.toBlob((b) => (b ? resolve(b) : reject(new Error("PNG encoding failed"))), "image/png"),
  );
}

/** Handles a click on a download button (delegated from the page); false when it was not one. */
export function handleDownloadClick(target: HTMLElement): boolean {
  const button = target.closest<HTMLButtonElement>("button[data-download]");
  if (!button) return false;
  const svg = button.parentElement?.previousElementSibling;
  if (!(svg instanceof SVGSVGElement)) return false;
  const text = new XMLSerializer().serializeToString(svg);
  const name = button.dataset.name ?? "figure";
  if (button.dataset.download === "svg") save(new Blob([text], { type: "image/svg+xml" }), `${name}.svg`);
  else void rasterise(text, svg.width.baseVal.value, svg.height.baseVal.value).then((png) => save(png, `${name}.png`));
  return true;
}
