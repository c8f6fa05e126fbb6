export {
  JobNotFoundError,
  StoreSliceService,
  type SliceRunOptions,
  type SliceRunResult,
  type SliceService,
  type SliceServiceDeps,
} from "./slice-service.js";
export {
  defaultObjectives,
  ObjectiveInputError,
  objectiveRegistry,
  syntheticObjectiveFactory,
  UnsupportedObjectiveError,
  type DefaultObjectivesDeps,
  type ObjectiveFactory,
  type PreparedObjective,
} from "./objectives.js";
export { textualInversionObjectiveFactory, writeDefaultOutputs, writeEmbeddingOutputs, type TextualInversionFactoryOptions } from "./textual-inversion.js";
export { checkpointKey, newAttemptId, outputsPrefix, writeParamsOutput, type OutputContext, type OutputWriter } from "./artifacts.js";
export { LeaseHeartbeat, type LeaseHeartbeatDeps, type LeaseOwnership } from "./lease-heartbeat.js";
export { noJobEvents, type JobEventSink } from "./events.js";
export { progressKey, ProgressPublisher, progressTail, readProgress, type JobProgress, type ProgressOptions } from "./progress.js";
