export {
  DispatchError,
  DispatcherClosedError,
  InvalidInvocationError,
  invocationKey,
  JOB_ID_PATTERN,
  parseSliceInvocation,
  sliceInvocationSchema,
  type DispatchReceipt,
  type Dispatcher,
  type SliceInvocation,
} from "./dispatcher.js";
export { InProcessDispatcher, type InProcessDispatcherOptions, type RunSliceContext, type SliceHandler } from "./inprocess.js";
export {
  DEFAULT_LEASE_GRACE_MS,
  DEFAULT_LEASE_TTL_MS,
  DEFAULT_SLICE_MAX_MS,
  InvalidDispatcherConfigError,
  parseDispatcherConfig,
  type DispatcherConfig,
  type InProcessDispatcherConfig,
  type ModalDispatcherConfig,
} from "./config.js";
export { createDispatcher, type DispatcherDeps } from "./create.js";
export { defaultModalDeployment, imageDefinition, InvalidDeploymentError, parseModalDeployment, type ModalDeployment, type ProjectSource } from "./modal/deployment.js";
