#!/bin/sh
# isd_variance and aol_bias end to end: the same samples at 1 and 2 ranks and
# 1 and 2 threads, `plan` output, and the theorem checks: PASS on
# jobs/examples/checks.ini, FAIL (exit 1) on the biased control.
# usage: experiments.sh FLEXCL MPIEXEC   (from the repository root)
set -eu
flexcl="$1"
mpiexec="$2"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
py=/usr/bin/python3
# shellcheck source=tests/check_lib.sh
. "$(dirname "$0")/../check_lib.sh"
check_ok="ok: "
check_fail="FAIL: "

OMP_NUM_THREADS=1 "$mpiexec" -n 1 "$flexcl" run jobs/examples/checks.ini --out "$tmp/r1" --quiet
OMP_NUM_THREADS=2 "$mpiexec" -n 2 "$flexcl" run jobs/examples/checks.ini --out "$tmp/r2" --quiet
# Samples depend only on (job, seed): identical at any rank and thread count.
n_points=$("$flexcl" plan jobs/examples/checks.ini | sed -n 's/^grid points: //p')
i=0
while [ "$i" -lt "$n_points" ]; do
    p=$(printf '/points/%06d/samples' "$i")
    h5diff "$tmp/r1/checks.h5" "$tmp/r2/checks.h5" "$p" "$p" ||
        stop "$p differs between 1 and 2 ranks"
    # Moments are merged in a rank-dependent tree: equal to 1e-10 relative.
    m=$(printf '/points/%06d/moments' "$i")
    h5diff -p 1e-10 "$tmp/r1/checks.h5" "$tmp/r2/checks.h5" "$m" "$m" ||
        stop "$m differs between 1 and 2 ranks by more than 1e-10 relative"
    i=$((i + 1))
done
ok "$n_points points, samples identical and moments equal at 1 and 2 ranks"

# plan: one line per point, tasks as contiguous blocks.
"$flexcl" plan jobs/examples/checks.ini --tasks 3 >"$tmp/plan"
lines=$(grep -cE '^[0-9]+ ' "$tmp/plan")
[ "$lines" -eq "$n_points" ] || stop "plan printed $lines points, expected $n_points"
last_task=$(grep -E '^[0-9]+ ' "$tmp/plan" | tail -1 | awk '{print $2}')
[ "$last_task" -eq 2 ] || stop "plan: last point in task $last_task, expected 2"
ok "plan lists $lines points over 3 tasks"

$py analysis/theorems.py "$tmp/r2/checks.h5" --report "$tmp/report" ||
    stop "theorem checks on jobs/examples/checks.ini"
test -s "$tmp/report/report.md" || stop "theorems.py wrote no $tmp/report/report.md"
ok "theorem checks pass on jobs/examples/checks.ini"

"$mpiexec" -n 2 "$flexcl" run jobs/examples/biased.ini --out "$tmp/b" --quiet
set +e
$py analysis/theorems.py "$tmp/b/biased.h5" --report "$tmp/breport" >"$tmp/biased.out"
status=$?
set -e
cat "$tmp/biased.out"
[ "$status" -eq 1 ] || stop "the biased control gave exit status $status, expected 1"
grep -q "FAIL" "$tmp/biased.out" || stop "theorems.py reports no FAIL on the biased control"
ok "the biased control fails the unbiasedness check"
finish
