#!/bin/sh
# The BAS job end to end on 2 MPI ranks: the results file exists only when
# complete, NLL decreases for every estimator and learner and stays above
# the 108.1-nat floor, and the results are bitwise identical with 1 and 2
# OpenMP threads.
# usage: bas_job.sh FLEXCL MPIEXEC   (run from the repository root)
set -eu
flexcl="$1"
mpiexec="$2"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
steps=${FLEXCL_TEST_STEPS:-4000000}
for t in 1 2; do
    OMP_NUM_THREADS=$t "$mpiexec" -n 2 --oversubscribe "$flexcl" run jobs/bas_isd.ini \
        --out "$tmp/t$t" --set run.steps=$steps --set run.eval_every=$((steps / 4)) --quiet
    test -f "$tmp/t$t/bas_isd.h5"
    test ! -e "$tmp/t$t/bas_isd.h5.partial"
done
# Every dataset of every grid point is identical (provenance differs by design).
h5diff "$tmp/t1/bas_isd.h5" "$tmp/t2/bas_isd.h5" /points /points
echo "ok: datasets identical with 1 and 2 OpenMP threads"
/usr/bin/python3 tests/integration/check_bas.py "$tmp/t1/bas_isd.h5"
