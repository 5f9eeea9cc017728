// Fit persistence lives in packages/orchestrator (fits.ts), shared with the API; re-exported here
// for the fitter's callers.
export { type FitFn, fitInputHash, loadFitRows, type RefitOutcome, refitSweep } from "@powersweep/orchestrator";
