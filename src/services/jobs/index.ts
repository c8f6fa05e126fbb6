export {
  InvalidJobRecordError,
  isTerminal,
  JOB_STATUSES,
  jobRecordSchema,
  parseJobRecord,
  TERMINAL_STATUSES,
  type JobRecord,
  type JobStatus,
  type Redispatch,
  type SliceLease,
  type SliceReport,
} from "./job-record.js";
export { jobPrefix, jobRecordKey, JobStore, newJobRecord, type NewJob, type VersionedJob } from "./job-store.js";
export { ACTIVE_JOBS_PREFIX, activeJobIds, activeJobKey, clearJobActive, jobMarkedAt, markJobActive } from "./active-jobs.js";
export { deleteAllJobInputs, deleteJobImageData, deleteJobInputs, jobInputKey, jobInputKeys, jobInputsPrefix, jobLatentKeys, jobLatentsPrefix, JobInputCopyError, JobInputSourceMissingError, writeJobInput, type JobInputSource } from "./job-inputs.js";
