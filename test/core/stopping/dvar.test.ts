import { describe, expect, it } from "vitest";
import { normals } from "../../../src/core/rng/stream.js";
import { createCriterion, CRITERION_PRESETS, type CriterionState, type StoppingCriterion } from "../../../src/core/stopping/index.js";

/** The authors' rule written out literally: np.var(history[-N:]) / np.var(history), two-pass each time. */
function referenceRatio(history: readonly number[], window: number): number | null {
  if (history.length < window) return null;
  const npVar = (xs: readonly number[]) => {
    const m = xs.reduce((a, b) => a + b, 0) / xs.length;
    return xs.reduce((a, b) => a + (b - m) ** 2, 0) / xs.length;
  };
  return npVar(history.slice(-window)) / npVar(history);
}

/** An L_det-like curve: fast decay to a plateau plus small noise. */
function ldetCurve(count: number, seed = 1): number[] {
  const z = normals({ seed, stream: 101, step: 0 }, count);
  return Array.from(z, (n, i) => 0.1 + 0.05 * Math.exp(-i / 150) + 0.002 * n);
}

function feed(criterion: StoppingCriterion, values: readonly number[], state: CriterionState = criterion.init(), firstStep = 1) {
  const ratios: Array<number | null> = [];
  let stopAt: number | null = null;
  values.forEach((v, i) => {
    const d = criterion.observe(state, firstStep + i, v);
    state = d.state;
    ratios.push(d.value);
    if (d.stop && stopAt === null) stopAt = firstStep + i;
  });
  return { state, ratios, stopAt };
}

describe("DVAR", () => {
  it("presets are the paper's (N=282, alpha=0.39) and the authors' later (N=310, alpha=0.15) values", () => {
    expect(CRITERION_PRESETS.dvar).toEqual({ name: "dvar", window: 310, threshold: 0.15, every: 1 });
    expect(CRITERION_PRESETS["dvar-paper"]).toEqual({ name: "dvar", window: 282, threshold: 0.39, every: 1 });
    expect(createCriterion({ name: "dvar" }).spec).toEqual(CRITERION_PRESETS.dvar);
  });

  it("matches the reference formula at every step and stops at the first ratio below alpha", () => {
    const values = ldetCurve(1500);
    const criterion = createCriterion({ name: "dvar", window: 282, threshold: 0.39 });
    const { ratios, stopAt } = feed(criterion, values);
    let expectedStop: number | null = null;
    for (let i = 0; i < values.length; i++) {
      const ref = referenceRatio(values.slice(0, i + 1), 282);
      if (ref === null) {
        expect(ratios[i]).toBeNull(); // no warm-up other than N values
      } else {
        expect(Math.abs(ratios[i]! - ref) / ref).toBeLessThan(1e-12);
        if (ref < 0.39 && expectedStop === null) expectedStop = i + 1;
      }
    }
    expect(ratios[281]).not.toBeNull();
    expect(expectedStop).not.toBeNull();
    expect(stopAt).toBe(expectedStop);
  });

  it("stays accurate over 10^5 values (relative error < 1e-9 against two-pass float64)", () => {
    const values = ldetCurve(100_000, 2);
    const criterion = createCriterion(CRITERION_PRESETS.dvar);
    let state = criterion.init();
    for (let i = 0; i < values.length; i++) {
      const d = criterion.observe(state, i + 1, values[i]!);
      state = d.state;
      if ((i + 1) % 20_000 === 0) {
        const ref = referenceRatio(values.slice(0, i + 1), 310)!;
        expect(Math.abs(d.value! - ref) / ref).toBeLessThan(1e-9);
      }
    }
  });

  it("a state restored from JSON gives bit-identical later ratios", () => {
    const values = ldetCurve(6000, 3);
    const criterion = createCriterion(CRITERION_PRESETS.dvar);
    const whole = feed(criterion, values);
    const first = feed(criterion, values.slice(0, 2345));
    const restored = criterion.parseState(JSON.parse(JSON.stringify(first.state)));
    const rest = feed(criterion, values.slice(2345), restored, 2346);
    const joined = [...first.ratios, ...rest.ratios];
    expect(joined.length).toBe(whole.ratios.length);
    joined.forEach((r, i) => expect(Object.is(r, whole.ratios[i])).toBe(true));
    expect(rest.state).toEqual(whole.state);
  });

  it("never stops on a constant history (0/0, as numpy gives NaN)", () => {
    const { stopAt, ratios } = feed(createCriterion({ name: "dvar", window: 5 }), Array(20).fill(0.3));
    expect(stopAt).toBeNull();
    expect(ratios[19]).toBeNaN();
  });

  it("refuses a state whose window does not fit the spec", () => {
    const criterion = createCriterion({ name: "dvar", window: 5 });
    expect(() => criterion.parseState({ moments: { count: 7, mean: 0, m2: 0 }, window: [1, 2] })).toThrow(/window holds 2 values, expected 5/);
    expect(() => criterion.parseState({ moments: { count: 1, mean: 0 }, window: [1] })).toThrow();
  });
});
