import type { Clock } from "../../../src/ports/clock.js";

/** A clock that jumps instead of waiting, recording every sleep. */
export class FakeClock implements Clock {
  readonly sleeps: number[] = [];
  constructor(private ms: number) {}
  now(): number {
    return this.ms;
  }
  async sleep(ms: number): Promise<void> {
    this.sleeps.push(ms);
    this.ms += ms;
  }
}
