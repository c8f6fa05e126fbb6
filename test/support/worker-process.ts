/** Runs a transpiled entrypoint (functions/*.js) as a child process, optionally SIGKILLing it. */
import { spawn } from "node:child_process";
import { join } from "node:path";

export interface WorkerExit {
  /** Exit code, or null when a signal ended it. */
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly output: string;
  /** Milliseconds from spawn to exit. */
  readonly ms: number;
  /** Killed by the safety timeout, not by `killAfterMs`. */
  readonly timedOut: boolean;
}

export interface WorkerRun {
  /** The script under the build folder, e.g. "functions/run-slice.js". */
  readonly script: string;
  readonly args?: readonly string[];
  /** DVAR_* settings; PATH and HOME are passed through. */
  readonly env: Readonly<Record<string, string>>;
  /** SIGKILL this long after spawn, unless it has exited. */
  readonly killAfterMs?: number;
  /** SIGKILL `afterMs` after `when()` first resolves true (polled every 20 ms), unless it has exited. */
  readonly killWhen?: { readonly when: () => Promise<boolean>; readonly afterMs: number };
  /** Safety net for a hung child (the test fails on its exit code). */
  readonly timeoutMs?: number;
}

export function runWorker(build: string, run: WorkerRun): Promise<WorkerExit> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const child = spawn(process.execPath, [join(build, run.script), ...(run.args ?? [])], {
      env: { PATH: process.env.PATH ?? "", ...(process.env.HOME ? { HOME: process.env.HOME } : {}), ...run.env },
    });
    let output = "";
    child.stdout.on("data", (d) => (output += d));
    child.stderr.on("data", (d) => (output += d));
    let timedOut = false;
    const timers = [
      ...(run.killAfterMs === undefined ? [] : [setTimeout(() => child.kill("SIGKILL"), run.killAfterMs)]),
      setTimeout(() => ((timedOut = true), child.kill("SIGKILL")), run.timeoutMs ?? 120_000),
    ];
    let exited = false;
    if (run.killWhen) {
      const { when, afterMs } = run.killWhen;
      const poll = async (): Promise<void> => {
        if (exited) return;
        if (await when().catch(() => false)) timers.push(setTimeout(() => child.kill("SIGKILL"), afterMs));
        else timers.push(setTimeout(() => void poll(), 20));
      };
      void poll();
    }
    child.on("error", reject);
    child.on("exit", (code, signal) => {
      exited = true;
      timers.forEach(clearTimeout);
      resolve({ code, signal, output, ms: Date.now() - started, timedOut });
    });
  });
}
