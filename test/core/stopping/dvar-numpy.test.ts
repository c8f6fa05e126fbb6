import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { createCriterion, CRITERION_PRESETS } from "../../../src/core/stopping/index.js";

/** Written by tools/reference/dvar_numpy.py (numpy's np.var, as the authors' VarEarlyStopper). */
const fixture = JSON.parse(readFileSync(new URL("../../fixtures/dvar_numpy.json", import.meta.url), "utf8")) as {
  series: number[];
  presets: Record<"dvar" | "dvar-paper", { window: number; alpha: number; stop_at_count: number; ratios: Record<string, number> }>;
};

describe("DVAR against numpy", () => {
  for (const name of ["dvar", "dvar-paper"] as const) {
    it(`${name}: ratios within 1e-12 (relative) of numpy and the same stopping step`, () => {
      const reference = fixture.presets[name];
      const criterion = createCriterion(CRITERION_PRESETS[name]);
      expect(criterion.spec).toMatchObject({ window: reference.window, threshold: reference.alpha });
      let state = criterion.init();
      let stop: number | null = null;
      let compared = 0;
      fixture.series.forEach((x, i) => {
        const d = criterion.observe(state, i + 1, x);
        state = d.state;
        if (d.stop && stop === null) stop = i + 1;
        const expected = reference.ratios[String(i + 1)];
        if (expected !== undefined) {
          expect(Math.abs(d.value! - expected) / expected).toBeLessThan(1e-12);
          compared++;
        }
      });
      expect(compared).toBe(Object.keys(reference.ratios).length);
      expect(stop).toBe(reference.stop_at_count);
    });
  }
});
