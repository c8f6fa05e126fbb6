#!/bin/sh
# Rebuild models/tiny-sd, the concept sets and the evaluation from the fixed seed (2 CPU threads).
# Each stage logs to build/<stage>.log; `time` prints how long each took.
set -e
cd "$(dirname "$0")"
PY=/usr/bin/python3
export OMP_WAIT_POLICY=PASSIVE  # no spinning threads on a shared 2-core machine
time $PY train_vae.py
time $PY train_unet.py
time $PY train_unet.py 700 --resume   # stage 2 -> build/unet-stage2.pt (shipped)
export TINY_SD_UNET=unet-stage2.pt
time $PY train_scorer.py
time $PY make_concepts.py
time $PY export.py
time $PY evaluate.py
