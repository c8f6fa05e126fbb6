#!/bin/sh
# Rebuild models/tiny-sd, the concept sets and the evaluation from the fixed seed.
# Each stage logs to build/<stage>.log; `time` prints how long each took.
# Thread counts are part of the recipe: the same script with another count gives other bits
# (the UNet at 1 thread and at 2 threads differ by 3e-5 after 250 steps, and chaotically later),
# and so is the UNet's process count (TSD_PROCS, 2 by default: data parallel, one thread each).
set -e
cd "$(dirname "$0")"
PY=/usr/bin/python3
export OMP_WAIT_POLICY=PASSIVE  # no spinning threads on a shared 2-core machine
time $PY train_vae.py                          # 2 threads -> build/vae.pt
time $PY train_unet.py                         # 4000 steps, 2 processes x 1 thread -> build/unet.pt
time $PY train_scorer.py                       # 2 threads -> build/scorer.pt
time $PY make_concepts.py
time $PY export.py
time $PY evaluate.py
