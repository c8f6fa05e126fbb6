/**
 * How many event-loop turns (setImmediate) ran while `work` was in flight: about 1 when the
 * work blocks the loop until it ends, thousands when it runs elsewhere (a worker thread).
 */
export async function turnsDuring(work: Promise<unknown>): Promise<number> {
  let done = false;
  let turns = 0;
  void work.finally(() => (done = true));
  while (!done) {
    await new Promise<void>((resolve) => setImmediate(resolve));
    turns++;
  }
  await work;
  return turns;
}
