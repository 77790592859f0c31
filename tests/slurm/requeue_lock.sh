#!/bin/sh
# slurm/task.sbatch on a requeue onto another node (suite slurm; runs the
# batch script directly with SLURM_ARRAY_* set, no Slurm daemons needed).
# The previous attempt of array task 77_0 died on node "oldnode" without
# cleaning up: its batch lock (DIR/slurm/task_0.lock) and its flexcl's parts
# lock (DIR/task_0.h5.parts/lock, "HOST PID") are fresh and name oldnode,
# where this node cannot check the pid.
#   requeue       the parts lock of oldnode is removed with one log line and
#                 the task completes (without the removal flexcl refuses the
#                 fresh foreign lock for 180 s: exit 2, no results file — the
#                 'other_node' case below is exactly that situation)
#   other_node    a parts lock naming a third node is not the previous
#                 attempt's: left alone, flexcl refuses it (non-zero exit, its
#                 one line naming the pid and node in the log, no results)
#   other_task    a fresh batch lock of another array task on oldnode: the
#                 script refuses before touching anything
# usage: requeue_lock.sh FLEXCL MPIEXEC   (from the repository root)
flexcl=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
sbatch_script=$(pwd)/slurm/task.sbatch
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
# shellcheck source=tests/check_lib.sh
. "$(dirname "$0")/../check_lib.sh"
check_name=requeue_lock
job=$T/j.ini
printf '[run]\nsteps = 2000\neval_every = 1000\n[model]\nn_hidden = 8\n[estimator]\nkind = isd\ntau = 20\nb = 0.3, 0.7\n' >"$job"

# setup DIR BATCH_LOCK_LINE PARTS_LOCK_LINE
setup() {
    mkdir -p "$1/slurm" "$1/task_0.h5.parts"
    echo "$2" >"$1/slurm/task_0.lock"
    echo "$3" >"$1/task_0.h5.parts/lock"
}
run_task() {
    (cd "$T" && SLURM_ARRAY_JOB_ID=77 SLURM_ARRAY_TASK_ID=0 FLEXCL_PROGRESS_EVERY=60 \
        timeout 120 bash "$sbatch_script" --flexcl "$flexcl" --job "$job" --out "$1" --tasks 1 \
        >"$1.log" 2>&1)
}

d=$T/requeue
setup "$d" "oldnode 999 77_0 60" "oldnode 4242"
run_task "$d"
rc=$?
if [ "$rc" -eq 0 ] && [ -f "$d/task_0.h5" ] && [ ! -e "$d/task_0.h5.parts" ] &&
    [ "$(grep -c 'requeue from oldnode: removing its flexcl' "$d.log")" -eq 1 ]; then
    ok "requeue: the previous attempt's parts lock removed (one line), task complete"
else
    bad "requeue: exit $rc; log:"; sed 's/^/      /' "$d.log"
fi

d=$T/other_node
setup "$d" "oldnode 999 77_0 60" "thirdnode 4242"
run_task "$d"
rc=$?
if [ "$rc" -ne 0 ] && [ ! -f "$d/task_0.h5" ] && [ -f "$d/task_0.h5.parts/lock" ] &&
    grep -q 'in use by pid 4242 on thirdnode' "$d.log" && ! grep -q 'removing' "$d.log"; then
    ok "other_node: a third node's parts lock kept and refused by flexcl (exit $rc)"
else
    bad "other_node: exit $rc; log:"; sed 's/^/      /' "$d.log"
fi

d=$T/other_task
setup "$d" "oldnode 999 77_5 60" "oldnode 4242"
run_task "$d"
rc=$?
if [ "$rc" -ne 0 ] && [ ! -f "$d/task_0.h5" ] && [ -f "$d/task_0.h5.parts/lock" ] &&
    grep -q 'already running as 77_5 on oldnode' "$d.log"; then
    ok "other_task: another array task's live batch lock refused, parts lock untouched"
else
    bad "other_task: exit $rc; log:"; sed 's/^/      /' "$d.log"
fi

finish
