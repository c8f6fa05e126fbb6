/**
 * Timers as a port, so services never call setTimeout themselves and tests drive them on a fake
 * clock.
 */

/**
 * Schedules `run` once after `ms`; returns a function that cancels it. `run` may return what it
 * started (a promise): the real timer ignores it, a test's scheduler can wait for it.
 */
export type ScheduleFn = (run: () => unknown, ms: number) => () => void;

/** Node's timer, unref'd: a pending timer never keeps the process alive. */
export const realTimer: ScheduleFn = (run, ms) => {
  const handle = setTimeout(run, ms);
  handle.unref();
  return () => clearTimeout(handle);
};
