#!/bin/sh
# Within-grid-point checkpoints end to end (issue 5). The driver is stopped
# at chosen safe points (--stop-after K: as if SIGUSR1 arrived there) and by a
# real SIGUSR1, then rerun; the final results must be bitwise those of an
# uninterrupted run (h5diff of every dataset and attribute under /points and
# /index), for train with parameter averaging (jobs/examples/averaging.ini)
# and both experiments (jobs/examples/checks.ini, fewer samples), at 1 and
# 2 ranks, and train with several overlapped averages in flight (also with
# the sliced exchange at 3 ranks). Also:
# experiment checkpoints move between rank counts, a train checkpoint
# refuses another rank count, a changed job refuses to resume with exit
# status 2 and one line, periodic checkpoints change nothing, and rerunning
# a completed task is a no-op.
# usage: resume.sh FLEXCL MPIEXEC   (from the repository root)
set -eu
flexcl="$1"
mpiexec="$2"
. "$(dirname "$0")/resume_lib.sh"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export OMP_NUM_THREADS=1

train="jobs/examples/averaging.ini"
exps="jobs/examples/checks.ini"
exp_set="--set run.samples=600 --set run.raw_samples=300 --set model.n_hidden=8"




for np in 1 2; do
    resume_case "train_np$np" "$np" "$train" "2 3 4 6"
    resume_case "experiments_np$np" "$np" "$exps" "3 9 12 7" $exp_set
done
# Overlapped averaging with D > A (A = 300, D = 700): two or three averages
# are in flight at every safe point (every 1000 steps).
resume_case "train_delay_np2" 2 "$train" "2 3 4 6" --set run.averaging=overlapped \
    --set run.average_delay=700
# The same with the sliced exchange at 3 ranks (slices of unequal length;
# the averages in flight restart from each rank's own snapshots).
resume_case "train_delay_sliced_np3" 3 "$train" "2 3 4 6" --set run.averaging=overlapped \
    --set run.average_delay=700 --set run.average_exchange=sliced

# Experiment checkpoints are indexed by chain: stop at 2 ranks, go on at 1,
# finish at 2; the result equals the uninterrupted 1-rank run.
mkdir -p "$tmp/move"
st1=$(status_of run 2 "$tmp/move/x" "$exps" --stop-after 5 $exp_set)
st2=$(status_of run 1 "$tmp/move/x" "$exps" --stop-after 4 $exp_set)
st3=$(status_of run 2 "$tmp/move/x" "$exps" $exp_set)
if [ "$st1$st2$st3" = "330" ] && same "$tmp/experiments_np1/ref/checks.h5" "$tmp/move/x/checks.h5"; then
    ok "experiment checkpoints resume across rank counts (2 -> 1 -> 2), bitwise identical"
else
    bad "experiment checkpoint across rank counts: statuses $st1 $st2 $st3"
fi

# A train checkpoint holds 2 ranks' learners: 1 rank refuses (exit 2).
mkdir -p "$tmp/ranks"
st1=$(status_of run 2 "$tmp/ranks/x" "$train" --stop-after 3)
st2=$(status_of run 1 "$tmp/ranks/x" "$train")
if [ "$st1$st2" = "32" ] && grep -q "checkpoint written with learners 4, this run has 2" "$tmp/ranks/x.log"; then
    ok "a train checkpoint refuses another rank count: $(grep 'flexcl: error' "$tmp/ranks/x.log")"
else
    bad "train checkpoint on another rank count: statuses $st1 $st2"
    cat "$tmp/ranks/x.log"
fi

# A real SIGUSR1 (what SLURM sends before the time limit) in the middle of a
# longer run: exit 3 with a checkpoint, then the rerun completes bitwise.
mkdir -p "$tmp/sig"
long="--set run.steps=2000000 --set run.eval_every=500000"
run 2 "$tmp/sig/ref" "$train" $long || bad "signal: uninterrupted run failed"
set +e
"$mpiexec" -n 2 "$flexcl" run "$train" --out "$tmp/sig/x" --quiet $long >"$tmp/sig/x.log" 2>&1 &
pid=$!
# Wait for the first grid point to be under way (its part file is open).
i=0
while [ ! -e "$tmp/sig/x/averaging.h5.parts/000000.h5.partial" ] && [ $i -lt 100 ]; do
    sleep 0.1
    i=$((i + 1))
done
sleep 0.3
kill -USR1 $pid
wait $pid
st=$?
set -e
# (A signal that lands after the last safe point of a grid point stops the
# run before the next point, without a checkpoint: also a correct stop.)
if [ "$st" -eq 3 ]; then
    where=$(grep -o 'at step [0-9]* of grid point [0-9]*' "$tmp/sig/x.log" || echo "between grid points")
    if run 2 "$tmp/sig/x" "$train" $long && same "$tmp/sig/ref/averaging.h5" "$tmp/sig/x/averaging.h5"; then
        ok "SIGUSR1 stopped the run ($where) with a checkpoint; the rerun is bitwise identical"
    else
        bad "SIGUSR1: the resumed run failed or differs"
    fi
else
    bad "SIGUSR1: exit status $st (expected 3)"
    cat "$tmp/sig/x.log"
fi

# Periodic checkpoints (here at every safe point) change no result.
mkdir -p "$tmp/periodic"
st=$(status_of run 2 "$tmp/periodic/x" "$train" --checkpoint-every 1e-9 --stop-after 9)
if [ "$st" -eq 3 ] && run 2 "$tmp/periodic/x" "$train" --checkpoint-every 1e-9 &&
    same "$tmp/train_np2/ref/averaging.h5" "$tmp/periodic/x/averaging.h5"; then
    ok "periodic checkpoints at every safe point: bitwise identical"
else
    bad "periodic checkpoints: status $st or results differ"
fi

# A changed job refuses to resume: exit status 2 and one line on stderr
# (run as a singleton so that mpiexec adds nothing).
mkdir -p "$tmp/changed"
st=$(status_of run 1 "$tmp/changed/x" "$train" --stop-after 3)
set +e
"$flexcl" run "$train" --out "$tmp/changed/x" --quiet --set estimator.eta=0.004 \
    >"$tmp/changed/out" 2>"$tmp/changed/err"
st2=$?
set -e
lines=$(wc -l <"$tmp/changed/err")
if [ "$st" -eq 3 ] && [ "$st2" -eq 2 ] && [ "$lines" -eq 1 ] && grep -q "changed since" "$tmp/changed/err"; then
    ok "a changed job refuses to resume: $(cat "$tmp/changed/err")"
else
    bad "changed job: statuses $st $st2, $lines line(s) on stderr:"
    cat "$tmp/changed/err"
fi

# A completed task is a no-op when rerun: exit 0, the file untouched.
cp "$tmp/train_np1/cut/averaging.h5" "$tmp/before.h5"
if run 1 "$tmp/train_np1/cut" "$train" && grep -q "already complete" "$tmp/train_np1/cut.log" &&
    cmp -s "$tmp/before.h5" "$tmp/train_np1/cut/averaging.h5"; then
    ok "rerunning a completed task is a no-op"
else
    bad "rerunning a completed task changed something"
fi

finish
