export {
  InvalidJobRecordError,
  isTerminal,
  JOB_STATUSES,
  jobRecordSchema,
  parseJobRecord,
  TERMINAL_STATUSES,
  type JobRecord,
  type JobStatus,
  type SliceReport,
} from "./job-record.js";
export { jobPrefix, jobRecordKey, JobStore, newJobRecord, type NewJob, type VersionedJob } from "./job-store.js";
