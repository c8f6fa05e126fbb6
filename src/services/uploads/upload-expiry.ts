/**
 * How long uploads are kept. An upload is staging for jobs: a job copies its uploads into its
 * own prefix when it is created (services/jobs/job-inputs.ts) and trains on the copies, so an
 * upload only has to outlive the creates that name it (jobs created before the copies existed
 * still read their uploads in every slice).
 * - The embedded server's sweep deletes uploads older than `ttlMs` that no queued or running
 *   job without copies names (UploadSweeper); S3 deployments expire `uploads/` by age with a
 *   lifecycle rule (iac/s3/lifecycle.json, Days = the default TTL).
 * - Job creation refuses an upload older than `ttlMs - jobWindowMs` (422 upload_missing); that
 *   closes the race between a create that found (and copies) the upload and a sweep or rule
 *   that deletes it, as long as a create takes less than `jobWindowMs` (seconds, against a day).
 */
export interface UploadExpiry {
  /** Age after which an upload may be deleted. */
  readonly ttlMs: number;
  /** Time left to a create that found an upload before the upload may go (S3: before the lifecycle rule fires). */
  readonly jobWindowMs: number;
}

export const DAY_MS = 86_400_000;
/** Matches the `expire-uploads` rule in iac/s3/lifecycle.json (a test checks). */
export const DEFAULT_UPLOAD_TTL_DAYS = 7;
export const DEFAULT_UPLOAD_EXPIRY: UploadExpiry = { ttlMs: DEFAULT_UPLOAD_TTL_DAYS * DAY_MS, jobWindowMs: DAY_MS };

/** An expiry of `days` (at least 2: one for new jobs, one for them to finish). */
export function uploadExpiryOfDays(days: number): UploadExpiry {
  if (!Number.isSafeInteger(days) || days < 2) throw new RangeError(`upload TTL must be a whole number of days >= 2, got ${days}`);
  return { ttlMs: days * DAY_MS, jobWindowMs: DAY_MS };
}

/** The upload's age at `nowMs`, or undefined when its id does not say when it was issued. */
export function uploadAgeMs(issuedAt: number | undefined, nowMs: number): number | undefined {
  return issuedAt === undefined ? undefined : nowMs - issuedAt;
}

/** May a new job still name an upload issued at `issuedAt`? Uploads of unknown age may. */
export function usableForNewJob(expiry: UploadExpiry, issuedAt: number | undefined, nowMs: number): boolean {
  const age = uploadAgeMs(issuedAt, nowMs);
  return age === undefined || age <= expiry.ttlMs - expiry.jobWindowMs;
}

/** May the upload be deleted (if no active job names it)? Uploads of unknown age are kept. */
export function expired(expiry: UploadExpiry, issuedAt: number | undefined, nowMs: number): boolean {
  const age = uploadAgeMs(issuedAt, nowMs);
  return age !== undefined && age > expiry.ttlMs;
}
