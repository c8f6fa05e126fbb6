export {
  JobNotFoundError,
  StoreSliceService,
  type SliceRunOptions,
  type SliceRunResult,
  type SliceService,
  type SliceServiceDeps,
} from "./slice-service.js";
export { defaultObjectives, objectiveRegistry, syntheticObjectiveFactory, UnsupportedObjectiveError, type ObjectiveFactory, type PreparedObjective } from "./objectives.js";
export { checkpointKey, newAttemptId, outputsPrefix, writeParamsOutput, type OutputContext, type OutputWriter } from "./artifacts.js";
export { noJobEvents, type JobEventSink } from "./events.js";
