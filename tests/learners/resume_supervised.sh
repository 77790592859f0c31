#!/bin/sh
# Within-grid-point checkpoints of the supervised learners (model.kind = ff,
# dp, dpt, backprop) end to end. Small jobs (300 training rows, 300 test
# rows, batch 10: 30 minibatches per epoch, 2 epochs; safe points at
# minibatches 0 and 16 of every epoch) are stopped with --stop-after K at
# safe points inside an epoch, at an epoch's start and between grid points,
# and rerun; the final results must equal an uninterrupted run's (h5diff of
# every dataset and attribute under /points and /index, except
# curve/seconds, which is wall time):
#   - ff (two grid points: two_term and isd, Adam) at 1 rank;
#   - ff under aol (two grid points: fixed and geometric phase lengths,
#     tau = 5 minibatches) at 1 rank, stopped inside phases;
#   - dpt (Adam) at 2 ranks, and stopped at 2 ranks, continued at 1, finished
#     at 2 (every rank trains the same network: the checkpoint moves);
#   - periodic checkpoints at every safe point change nothing;
#   - must-fail twin: resuming with the optimiser state not restored
#     (the checkpoint edited by tests/learners/ckpt_forget.py: Adam's moments and count zeroed)
#     must give different results, so the comparison is not vacuous;
#   - must-fail twin of the aol point: resuming with the phase in progress
#     forgotten (ckpt_forget.py phase: its type and steps left zeroed, so a
#     new phase begins) must give different results.
# usage: resume_supervised.sh FLEXCL MPIEXEC [ff|dpt]   (from the repository
# root; ff or dpt runs only that group of cases, each well under a minute)
set -eu
flexcl="$1"
mpiexec="$2"
. "$(dirname "$0")/resume_lib.sh"
group="${3:-all}"
tmp=$(mktemp -d)
trap '[ -n "${KEEP_TMP:-}" ] && echo "kept $tmp" || rm -rf "$tmp"' EXIT
export OMP_NUM_THREADS=1

fm=/usr/share/datasets/fashion-mnist
# 300 test rows: the first 300 t10k images and labels as raw IDX files
# (header count 300 = 0x012c).
{
    printf '\000\000\010\003\000\000\001\054\000\000\000\034\000\000\000\034'
    gzip -dc "$fm/t10k-images-idx3-ubyte.gz" | tail -c +17 | head -c $((784 * 300))
} >"$tmp/test-images"
{
    printf '\000\000\010\001\000\000\001\054'
    gzip -dc "$fm/t10k-labels-idx1-ubyte.gz" | tail -c +9 | head -c 300
} >"$tmp/test-labels"

# job NAME KIND-SECTION: a small job file $tmp/NAME.ini
job() {
    cat >"$tmp/$1.ini" <<EOF
[run]
seed = 11
epochs = 2
eval_rows = 100

[data]
source = idx
images = $fm/train-images-idx3-ubyte.gz
labels = $fm/train-labels-idx1-ubyte.gz
test_images = $tmp/test-images
test_labels = $tmp/test-labels
label_block = 0
max_rows = 300

[optim]
kind = adam

$2
EOF
}
job ff "[data]
threshold = -1
[model]
kind = ff
hidden = 40,30
[estimator]
kind = two_term, isd
b = 0.5
eta = 0.01
batch = 10"
job ffaol "[data]
threshold = -1
[model]
kind = ff
hidden = 40,30
[estimator]
kind = aol
law = fixed, geometric
tau = 5
b = 0.5
eta = 0.01
batch = 10"
job dpt "[data]
threshold = 0.8
[model]
kind = dpt
hidden = 32,32
alpha = 0.5
beta = 0.01
sweeps = 4
[estimator]
eta = 0.001
batch = 10"



# same (resume_lib.sh) compares everything but each point's curve/seconds (wall time).
same_exclude="--exclude-path /000000/curve/seconds --exclude-path /000001/curve/seconds"

if [ "$group" != dpt ]; then
# ff: stops at minibatch 0 of epoch 1 (update 0), inside epoch 1 (16), at the
# start of epoch 2 (30), at the start of grid point 1, inside its epoch 2 (46).
resume_case ff_np1 1 "$tmp/ff.ini" "1 2 2 3 4"

# Periodic checkpoints (here at every safe point) change no result.
mkdir -p "$tmp/periodic"
st=$(status_of run 1 "$tmp/periodic/x" "$tmp/ff.ini" --checkpoint-every 1e-9 --stop-after 3)
if [ "$st" -eq 3 ] && run 1 "$tmp/periodic/x" "$tmp/ff.ini" --checkpoint-every 1e-9 &&
    same "$tmp/ff_np1/ref/ff.h5" "$tmp/periodic/x/ff.h5"; then
    ok "ff: periodic checkpoints at every safe point: bitwise identical"
else
    bad "ff: periodic checkpoints: status $st or results differ"
fi

# Must-fail twin: the same stop inside epoch 1 of grid point 0, resumed
# without restoring the optimiser (Adam's moments and count start afresh):
# the run completes, and its results must differ from the uninterrupted run.
mkdir -p "$tmp/twin"
# (run sets the global st: keep the statuses in other variables.)
tw1=$(status_of run 1 "$tmp/twin/x" "$tmp/ff.ini" --stop-after 2)
/usr/bin/python3 tests/learners/ckpt_forget.py "$tmp/twin/x/ff.h5.parts/point_000000.ckpt.h5" optim ||
    bad "twin: cannot edit the checkpoint"
tw2=$(status_of run 1 "$tmp/twin/x" "$tmp/ff.ini")
if [ "$tw1$tw2" = "30" ] && [ -f "$tmp/twin/x/ff.h5" ] && ! same "$tmp/ff_np1/ref/ff.h5" "$tmp/twin/x/ff.h5"; then
    ok "twin: resuming without the optimiser state gives different results (as it must)"
else
    bad "twin: statuses $tw1 $tw2, or resuming without the optimiser state went unnoticed"
fi

# A checkpoint in the layout before the aol phase was saved (5 clock
# counters, no root attribute `clock`) still resumes a two_term point,
# bitwise.
mkdir -p "$tmp/v1"
v1=$(status_of run 1 "$tmp/v1/x" "$tmp/ff.ini" --stop-after 2)
/usr/bin/python3 tests/learners/ckpt_forget.py "$tmp/v1/x/ff.h5.parts/point_000000.ckpt.h5" clock_v1 ||
    bad "v1: cannot edit the checkpoint"
v2=$(status_of run 1 "$tmp/v1/x" "$tmp/ff.ini")
if [ "$v1$v2" = "30" ] && same "$tmp/ff_np1/ref/ff.h5" "$tmp/v1/x/ff.h5"; then
    ok "v1: a checkpoint with the older 5-counter clock resumes, bitwise identical"
else
    bad "v1: statuses $v1 $v2, or the resumed results differ"
fi

# ff under aol: point 0 has fixed phases of 5 minibatches (the safe points at
# updates 16 and 46 fall 1 step into a phase, 4 left; 30 is a phase
# boundary), point 1 geometric ones; stops in both points. aol_stop records
# the phase in progress at every stop (point:type/steps left) and the case
# must include a stop inside a phase of each point.
aol_at=""
aol_stop() {
    ck=$(ls "$2/$3.h5.parts/"point_*.ckpt.h5 2>/dev/null | head -n 1)
    [ -n "$ck" ] || { bad "$1: no checkpoint after --stop-after $4"; return 1; }
    aol_at="$aol_at $(/usr/bin/python3 -c 'import sys, h5py, re
f = h5py.File(sys.argv[1], "r")
c = f["supervised/clock"][0]
print("p%d:%d/%d" % (int(re.search(r"point_(\d+)", sys.argv[1]).group(1)), c[5], c[6]))' "$ck")"
}
after_stop=aol_stop
resume_case ffaol_np1 1 "$tmp/ffaol.ini" "2 2 2 2 2 2 2"
after_stop=""
case "$aol_at" in
    *p0:?/[1-9]*) case "$aol_at" in
        *p1:?/[1-9]*) ok "ffaol_np1: aol phase (type/steps left) at the stops:$aol_at" ;;
        *) bad "ffaol_np1: no stop inside a phase of point 1:$aol_at" ;;
        esac ;;
    *) bad "ffaol_np1: no stop inside a phase of point 0:$aol_at" ;;
esac

# Must-fail twin: stopped at update 16 of point 0 (a phase with 4 steps
# left), resumed with that phase forgotten: the results must differ.
mkdir -p "$tmp/twin_phase"
tp1=$(status_of run 1 "$tmp/twin_phase/x" "$tmp/ffaol.ini" --stop-after 2)
/usr/bin/python3 tests/learners/ckpt_forget.py "$tmp/twin_phase/x/ffaol.h5.parts/point_000000.ckpt.h5" phase ||
    bad "twin_phase: cannot edit the checkpoint"
tp2=$(status_of run 1 "$tmp/twin_phase/x" "$tmp/ffaol.ini")
if [ "$tp1$tp2" = "30" ] && [ -f "$tmp/twin_phase/x/ffaol.h5" ] &&
    ! same "$tmp/ffaol_np1/ref/ffaol.h5" "$tmp/twin_phase/x/ffaol.h5"; then
    ok "twin_phase: resuming without the aol phase in progress gives different results (as it must)"
else
    bad "twin_phase: statuses $tp1 $tp2, or resuming without the aol phase went unnoticed"
fi

fi

if [ "$group" != ff ]; then
# dpt at 2 ranks: inside epoch 1, at the start of epoch 2, inside epoch 2.
resume_case dpt_np2 2 "$tmp/dpt.ini" "2 2 2"

# A supervised checkpoint holds one network that every rank trains: stop at
# 2 ranks, go on at 1, finish at 2; the result equals the uninterrupted run.
mkdir -p "$tmp/move"
st1=$(status_of run 2 "$tmp/move/x" "$tmp/dpt.ini" --stop-after 2)
st2=$(status_of run 1 "$tmp/move/x" "$tmp/dpt.ini" --stop-after 3)
st3=$(status_of run 2 "$tmp/move/x" "$tmp/dpt.ini")
if [ "$st1$st2$st3" = "330" ] && same "$tmp/dpt_np2/ref/dpt.h5" "$tmp/move/x/dpt.h5"; then
    ok "dpt checkpoints resume across rank counts (2 -> 1 -> 2), bitwise identical"
else
    bad "dpt checkpoint across rank counts: statuses $st1 $st2 $st3"
fi

fi

finish
