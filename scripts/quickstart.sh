#!/bin/sh
# README command 1: install, build, and run the main job on 2 local MPI ranks.
set -eu
cd "$(dirname "$0")/.."
sh scripts/deps.sh
sh scripts/build.sh
. scripts/env.sh
export OMP_NUM_THREADS=1
mpiexec -n 2 build/flexcl run jobs/bas_isd.ini --out results
