#!/bin/sh
# README command 1: install, build, run the main job (jobs/quickstart.ini) on
# 2 local MPI ranks, and check the theorems on its results.
set -eu
cd "$(dirname "$0")/.."
sh scripts/deps.sh
sh scripts/build.sh
. scripts/env.sh
export OMP_NUM_THREADS=1
mpiexec -n 2 build/flexcl run jobs/quickstart.ini --out results
/usr/bin/python3 analysis/theorems.py results/quickstart.h5 --report results/report
echo "report: results/report/report.md (figures: results/report/*.png)"
