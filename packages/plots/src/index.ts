// @powersweep/plots: pure data → SVG string charts (no DOM), used by the dashboard and the CLI demo.
export {
  type BatchSizeData,
  batchSizeChart,
  type CurveSeries,
  covarianceBand,
  type GammaVsTokensData,
  gammaVsTokensChart,
  type LossCurveSeries,
  type LossVsLrSeries,
  lawText,
  lossCurveChart,
  lossVsLrChart,
  lrCurveChart,
  type PowerLawFit,
} from "./charts.ts";
export {
  formatTick,
  isPlottable,
  linearScale,
  linearTicks,
  logScale,
  logTicks,
  niceLinearDomain,
  niceStep,
  type Scale,
  type ScaleType,
  type Tick,
} from "./scale.ts";
export { type PowerSurfaceOptions, type PowerSurfacePanel, powerSurfaceChart } from "./surface.ts";
export { colorAt, escapeXml, PALETTE } from "./svg.ts";
export {
  type ChartOptions,
  type XyBand,
  type XyChartSpec,
  type XyMarker,
  type XyPoint,
  type XySeries,
  xyChart,
} from "./xy.ts";
