#!/bin/sh
# SLURM array jobs end to end on a private single-node SLURM (started and
# stopped here, see cluster.sh; MaxArraySize = 3 so that a 4-task job needs
# two arrays):
#   1. slurm/submit.sh rejects bad arguments with one line and exit status 2;
#   2. --dry-run prints the sbatch lines and the index -> task -> points ->
#      seeds -> output mapping, splits at MaxArraySize, packs short points
#      into few tasks, and submits nothing;
#   3. jobs/examples/array.ini through submit.sh (4 tasks, 2 arrays, at most
#      2 at a time, mpirun), one task preempted with
#      `scancel --signal=USR1 --batch` once it has finished a grid point: it
#      requeues itself, `flexcl status` shows it checkpointed and pending,
#      it resumes, and the merged file equals a direct run (h5diff of
#      /points and /index); status calls squeue once;
#   4. a resubmission of the finished job is a no-op;
#   5. a 2-rank task through srun (--launcher srun) equals mpiexec -n 2.
# usage: array.sh FLEXCL MPIEXEC   (from the repository root)
set -eu
case "$1" in /*) flexcl=$1 ;; *) flexcl=$PWD/$1 ;; esac
mpiexec=$2
job=jobs/examples/array.ini
tmp=$(mktemp -d /tmp/flexcl-slurm.XXXXXX)
# munged wants every directory above its socket searchable by all.
chmod 755 "$tmp"
. tests/slurm/cluster.sh
# shellcheck source=tests/check_lib.sh
. "$(dirname "$0")/../check_lib.sh"
check_ok="ok: "
check_fail="FAIL: "
check_t0=$(date +%s)

# fail WHAT: report the failed check with the task logs and the cluster's
# state, and stop.
fail() {
    bad "$*"
    for f in "$tmp"/out*/slurm/logs/*.out; do
        [ -f "$f" ] || continue
        echo "---- $f"
        tail -n 25 "$f"
    done
    [ -z "${SLURM_CONF:-}" ] || { squeue 2>&1 | head -20; cluster_dump "$tmp/cluster"; }
    exit 1
}
cleanup() {
    st=$?
    trap - EXIT
    cluster_stop "$tmp/cluster"
    rm -rf "$tmp"
    exit "$st"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Wait up to $1 seconds for the shell condition $2.
wait_for() {
    _n=$(( $1 * 5 ))
    while ! eval "$2"; do
        _n=$((_n - 1))
        [ "$_n" -gt 0 ] || return 1
        sleep 0.2
    done
}

cluster_start "$tmp/cluster" 3 || fail "the SLURM daemons did not start"
[ -z "$(squeue -h)" ] || fail "a fresh cluster has jobs"

# -- 1. bad arguments: one line on stderr, exit status 2 ---------------------
check_bad() {
    set +e
    slurm/submit.sh "$@" --flexcl "$flexcl" >"$tmp/bad.out" 2>"$tmp/bad.err"
    st=$?
    set -e
    [ "$st" -eq 2 ] || fail "submit.sh $* exited $st, expected 2 ($(cat "$tmp/bad.err"))"
    [ "$(wc -l <"$tmp/bad.err")" -eq 1 ] || fail "submit.sh $*: expected one line on stderr, got: $(cat "$tmp/bad.err")"
    [ ! -s "$tmp/bad.out" ] || fail "submit.sh $* printed to stdout: $(cat "$tmp/bad.out")"
    grep -q "^submit.sh: error: " "$tmp/bad.err" || fail "submit.sh $*: unexpected message $(cat "$tmp/bad.err")"
}
check_bad
check_bad "$job" --ranks 0
check_bad "$job" --threads two
check_bad "$job" --time 5
check_bad "$job" --time 00:61:00
check_bad "$job" --max-parallel
check_bad "$job" --bogus
check_bad "$job" --launcher ssh
check_bad "$job" --tasks 11
check_bad jobs/examples/no_such_job.ini
check_bad tests/badjobs/unknown_key.ini
check_bad "$job" "$job"
ok "bad arguments: one line, exit status 2 ($(cat "$tmp/bad.err"))"

# -- 2. dry runs: nothing submitted, mapping complete, MaxArraySize split -----
slurm/submit.sh "$job" --flexcl "$flexcl" --dry-run --tasks 4 --max-parallel 2 --time 00:05:00 \
    --out "$tmp/dry" >"$tmp/dry.txt" || fail "dry run failed"
cat "$tmp/dry.txt"
[ -z "$(squeue -h)" ] || fail "--dry-run submitted jobs"
[ ! -e "$tmp/dry" ] || fail "--dry-run created $tmp/dry"
[ "$(grep -c '^  sbatch ' "$tmp/dry.txt")" -eq 3 ] || fail "dry run: expected 3 sbatch lines (2 arrays + merge)"
grep -q -- '--array=0-2%2 ' "$tmp/dry.txt" || fail "dry run: no --array=0-2%2 line"
grep -q -- '--array=0%2 .*--dependency=afterany:ARRAY1 .*--offset 3 ' "$tmp/dry.txt" ||
    fail "dry run: the second array (task 3, offset 3, after the first) is missing"
grep -q -- "--dependency=afterok:ARRAY1:ARRAY2 .*merge.sbatch" "$tmp/dry.txt" ||
    fail "dry run: the merge job does not depend on both arrays"
grep -q -- '--signal=B:USR1@60 ' "$tmp/dry.txt" && grep -q -- '--requeue ' "$tmp/dry.txt" &&
    grep -q -- "--output=$tmp/dry/slurm/logs/array-%A_%a.out" "$tmp/dry.txt" || fail "dry run: signal, requeue or log name missing"
# Every grid point exactly once, in order, with its seed and output file.
awk '/-> task/ {
        t = $6; split($9, r, "-"); if (r[1] != next_pt) { print "gap before point " r[1]; bad = 1 }
        next_pt = r[2] + 1; if ($13 != "17") { print "seed " $13; bad = 1 }
        if ($15 !~ ("task_" t ".h5$")) { print "output " $15; bad = 1 } }
     END { if (next_pt != 10) { print "points end at " next_pt; bad = 1 } exit bad }' "$tmp/dry.txt" ||
    fail "dry run: the index -> task -> points -> seed -> output mapping is wrong"
# More tasks than MaxArraySize: ceil(10 / 3) = 4 arrays.
slurm/submit.sh "$job" --flexcl "$flexcl" --dry-run --tasks 10 --out "$tmp/dry" >"$tmp/dry10.txt"
[ "$(grep -c -- '--array=' "$tmp/dry10.txt")" -eq 4 ] || fail "10 tasks with MaxArraySize 3: expected 4 arrays"
grep -q -- '--array=0 .*--offset 9 ' "$tmp/dry10.txt" || fail "10 tasks: the last array should hold task 9 alone"
# Packing: a generous time limit packs the ~20 s of short points into one task;
# a short one spreads them, each task within the stated budget.
slurm/submit.sh "$job" --flexcl "$flexcl" --dry-run --time 02:00:00 --out "$tmp/dry" >"$tmp/pack1.txt"
grep -q '^tasks: *1 flexcl tasks' "$tmp/pack1.txt" || fail "packing: expected 1 task for a 2-hour limit: $(grep '^tasks' "$tmp/pack1.txt")"
slurm/submit.sh "$job" --flexcl "$flexcl" --dry-run --time 00:01:00 --min-task 00:00:05 --out "$tmp/dry" >"$tmp/pack2.txt"
awk '/^packing:/ { budget = $4 } /-> task/ { n++; est = $16; gsub(/[(~]/, "", est); if (est + 0 > budget + 0 && $10 != "(1)") bad = 1 }
     END { if (n < 3 || bad) exit 1 }' "$tmp/pack2.txt" || fail "packing with a 1-minute limit: $(cat "$tmp/pack2.txt")"
ok "dry runs: $(grep -c -- '-> task' "$tmp/dry.txt") tasks mapped, MaxArraySize split, packing ($(grep -c -- '-> task' "$tmp/pack2.txt") tasks for 5-s tasks, 1 for a 2-hour limit), nothing submitted"

# -- 3. the array job, a preemption, the merge --------------------------------
"$mpiexec" -n 1 "$flexcl" run "$job" --out "$tmp/ref" --quiet
out=$tmp/out
export FLEXCL_PROGRESS_EVERY=2
slurm/submit.sh "$job" --flexcl "$flexcl" --tasks 4 --max-parallel 2 --time 00:05:00 --out "$out" \
    >"$tmp/submit.txt" || { cat "$tmp/submit.txt"; fail "submit.sh failed"; }
cat "$tmp/submit.txt"
rec=$out/slurm/submit.txt
[ "$(grep -c '^array ' "$rec")" -eq 2 ] || fail "expected 2 arrays in $rec"
a1=$(awk '$1 == "array" && $4 == 0 { print $2 }' "$rec")
a2=$(awk '$1 == "array" && $4 == 3 { print $2 }' "$rec")
merge=$(awk '$1 == "merge" { print $2 }' "$rec")
[ -n "$a1" ] && [ -n "$a2" ] && [ -n "$merge" ] || fail "job ids missing from $rec"

# Task 1 holds points 2-4; preempt it once its first point is saved.
wait_for 90 '[ -f "$out/task_1.h5.parts/000002.h5" ]' || fail "task 1 never saved its first point"
# (scancel may answer "try again later" while the job changes state.)
n=0
until scancel --signal=USR1 --batch "${a1}_1"; do
    n=$((n + 1))
    [ "$n" -lt 10 ] || fail "scancel --signal=USR1 --batch ${a1}_1 kept failing"
    sleep 0.5
done
wait_for 30 '[ "$(squeue -h -j "${a1}_1" -o %T 2>/dev/null)" = PENDING ]' ||
    fail "task 1 was not requeued after SIGUSR1 ($(squeue -h -j "${a1}_1" -o '%T %r' 2>&1))"
grep -q "requeueing ${a1}_1" "$out/slurm/logs/array-${a1}_1.out" || fail "task 1's log does not report the requeue"
# status: one squeue call (counted through a wrapper), task 1 checkpointed.
mkdir -p "$tmp/bin"
real_squeue=$(command -v squeue)
printf '#!/bin/sh\necho x >>"%s"\nexec "%s" "$@"\n' "$tmp/squeue.calls" "$real_squeue" >"$tmp/bin/squeue"
chmod +x "$tmp/bin/squeue"
PATH="$tmp/bin:$PATH" "$flexcl" status "$out" >"$tmp/status1.txt"
cat "$tmp/status1.txt"
[ "$(wc -l <"$tmp/squeue.calls")" -eq 1 ] || fail "flexcl status called squeue $(wc -l <"$tmp/squeue.calls") times"
grep -Eq "^1 +checkpointed +[12]/3 +${a1}_1 PENDING" "$tmp/status1.txt" ||
    fail "status: task 1 should be checkpointed and pending"
grep -Eq "^$out: [0-4]/4 tasks done, .*; grid points [0-9]+/10 done" "$tmp/status1.txt" || fail "status: no summary line"
ok "task 1 preempted with SIGUSR1 after its first point: requeued, status shows it checkpointed (squeue called once)"
# Slurm holds a requeued job for ~2 minutes (BeginTime); release it now,
# and again while it is pending (its reason may read None or Resources for
# a moment before BeginTime shows, and an update can come too early).
n=0
while [ "$(squeue -h -j "${a1}_1" -o %T 2>/dev/null)" = PENDING ]; do
    scontrol update JobId="${a1}_1" StartTime=now 2>/dev/null || true
    n=$((n + 1))
    [ "$n" -lt 90 ] || fail "task 1 still pending 90 s after its requeue ($(squeue -h -j "${a1}_1" -o %r))"
    sleep 1
done

wait_for 150 '[ -z "$(squeue -h -j "$a1,$a2,$merge" 2>/dev/null)" ]' || fail "the jobs did not finish in 150 s"
scontrol show job "$merge" | grep -q 'JobState=COMPLETED' || fail "merge job: $(scontrol show job "$merge" | grep JobState)"
[ -f "$out/merged.h5" ] || fail "no $out/merged.h5"
h5diff "$tmp/ref/array.h5" "$out/merged.h5" /points /points || fail "merged /points differ from a direct run"
h5diff "$tmp/ref/array.h5" "$out/merged.h5" /index /index || fail "merged /index differs from a direct run"
log1=$out/slurm/logs/array-${a1}_1.out
grep -q "restart 1" "$log1" && grep -Eq "resumed: [12] of 3 point" "$log1" ||
    fail "task 1 did not resume from its checkpoint"
grep -q "progress: task" "$log1" || fail "no progress lines in $log1"
"$flexcl" status "$out" >"$tmp/status2.txt"
cat "$tmp/status2.txt"
grep -q "4/4 tasks done, 0 running, 0 checkpointed, 0 missing.*grid points 10/10 done (100%)" "$tmp/status2.txt" ||
    fail "final status"
[ ! -e "$out/slurm/task_1.lock" ] || fail "task 1's lock was left behind"
ok "4 tasks in 2 arrays + merge: merged file identical to a direct run; task 1 resumed; status 4/4"

# -- 4. resubmitting a finished job does nothing ------------------------------
slurm/submit.sh "$job" --flexcl "$flexcl" --max-parallel 2 --time 00:05:00 --out "$out" >"$tmp/again.txt"
grep -q "nothing to do" "$tmp/again.txt" || fail "resubmission: $(cat "$tmp/again.txt")"
[ -z "$(squeue -h)" ] || fail "resubmission of a finished job queued jobs"
check_bad "$job" --ranks 2 --out "$out"
grep -q "computed on 1 rank" "$tmp/bad.err" || fail "resubmission on other ranks: $(cat "$tmp/bad.err")"
ok "resubmitting the finished job is a no-op; on other ranks it is refused"

# -- 5. srun as the launcher, 2 ranks ------------------------------------------
"$mpiexec" -n 2 "$flexcl" run jobs/examples/tiny.ini --out "$tmp/ref2" --quiet
slurm/submit.sh jobs/examples/tiny.ini --flexcl "$flexcl" --launcher srun --ranks 2 --time 00:02:00 \
    --out "$tmp/out2" >"$tmp/submit2.txt" || { cat "$tmp/submit2.txt"; fail "submit.sh --launcher srun failed"; }
m2=$(awk '$1 == "merge" { print $2 }' "$tmp/out2/slurm/submit.txt")
wait_for 60 '[ -z "$(squeue -h 2>/dev/null)" ]' || fail "the srun job did not finish"
scontrol show job "$m2" | grep -q 'JobState=COMPLETED' || fail "srun merge job: $(scontrol show job "$m2" | grep JobState)"
h5diff "$tmp/ref2/tiny.h5" "$tmp/out2/merged.h5" /points /points || fail "srun 2-rank result differs from mpiexec -n 2"
ok "srun launcher with 2 ranks: identical to mpiexec -n 2"

finish
