#!/usr/bin/python3
"""DVAR reference values computed with numpy, as the authors' VarEarlyStopper does:
once the history holds >= N values, ratio = np.var(history[-N:]) / np.var(history),
stop at the first ratio < alpha. Run by hand:

    /usr/bin/python3 tools/reference/dvar_numpy.py > test/fixtures/dvar_numpy.json

Writes an L_det-like series (decay to a plateau plus deterministic wiggles) and the
ratios for the two presets, so test/core/stopping/dvar-numpy.test.ts can compare.
"""
import json

import numpy as np

COUNT = 1200
i = np.arange(COUNT, dtype=np.float64)
series = 0.1 + 0.05 * np.exp(-i / 150) + 0.002 * np.sin(1.7 * i) + 0.0015 * np.sin(0.013 * i * i)

presets = {"dvar": (310, 0.15), "dvar-paper": (282, 0.39)}
out = {"numpy": np.__version__, "series": series.tolist(), "every": 7, "presets": {}}
for name, (window, alpha) in presets.items():
    ratios = {}
    stop = None
    for n in range(window, COUNT + 1):
        history = series[:n]
        ratio = float(np.var(history[-window:]) / np.var(history))
        if n % out["every"] == 0:
            ratios[str(n)] = ratio
        if stop is None and ratio < alpha:
            stop = n
    out["presets"][name] = {"window": window, "alpha": alpha, "stop_at_count": stop, "ratios": ratios}

print(json.dumps(out))
