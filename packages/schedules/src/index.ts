export {
  createSchedule,
  decayFactor,
  EXPONENTIAL_DECAY_RATE,
  expectedLrCurve,
  type PowerLrParams,
  powerLr,
  type ScheduleContext,
} from "./schedules.ts";
