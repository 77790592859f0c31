#!/bin/sh
# Within-grid-point checkpoints of equilibrium propagation (model.kind =
# eqprop) end to end: the checkpoint must carry the model's per-example store
# of persistent free states (the model memory, learner/memory), or a resumed
# run is not bitwise the uninterrupted one. A small job (200 bFMNIST rows,
# 784-20-10, batch 5, tau 15, 4000 steps; two grid points: two_term and isd;
# safe points at steps 0, 1000, 2000 and 3000 of each grid point; a resumed
# invocation's first safe point is where it resumed) is stopped with
# --stop-after K at several safe points and rerun; the final
# results must equal an uninterrupted run's (h5diff of every dataset and
# attribute under /points and /index):
#   - 1 rank: stops at steps 1000 (inside a positive phase) and 2000 (inside
#     a negative phase, which writes the store) of grid point 0 (two_term;
#     an update is 30 steps), and at step 1000 of grid point 1 (isd, inside
#     a phase);
#   - 2 ranks with 2 learners each and blocking averaging every 500 steps:
#     stops at step 1000 of grid point 0, step 0 and step 2000 of point 1;
#   - must-fail twin: resuming with the restored store overwritten by zeros
#     (the checkpoint's learner/memory zeroed by tests/learners/ckpt_forget.py)
#     must give different results, so the comparison is not vacuous.
# usage: resume_eqprop.sh FLEXCL MPIEXEC   (from the repository root; well
# under a minute on an idle machine)
set -eu
flexcl="$1"
mpiexec="$2"
. "$(dirname "$0")/resume_lib.sh"
tmp=$(mktemp -d)
trap '[ -n "${KEEP_TMP:-}" ] && echo "kept $tmp" || rm -rf "$tmp"' EXIT
export OMP_NUM_THREADS=1

fm=/usr/share/datasets/fashion-mnist
job="$tmp/ep.ini"
cat >"$job" <<EOF
[run]
seed = 7
steps = 4000
eval_every = 2000
eval_rows = 100

[data]
source = idx
images = $fm/train-images-idx3-ubyte.gz
labels = $fm/train-labels-idx1-ubyte.gz
threshold = 0.8
label_block = 1
n_classes = 10
max_rows = 200

[model]
kind = eqprop
n_hidden = 20
beta = 0.5
epsilon = 0.5
init_sigma = 0.05
eval_steps = 20

[estimator]
kind = two_term, isd
b = 0.5
weights = importance
eta = 0.05
tau = 15
law = fixed
batch = 5

[optim]
kind = sgd
EOF




# after every stop the checkpoint must hold the per-example store
store_saved() {
    ck=$(ls "$2/$3.h5.parts/"point_*.ckpt.h5)
    if ! h5ls "$ck/learner" | grep -q '^memory  *Dataset'; then
        bad "$1: the checkpoint after --stop-after $4 holds no learner/memory"
        return 1
    fi
}
after_stop=store_saved
resume_case np1 1 "$job" "2 2 4"
resume_case np2 2 "$job" "2 4 3" --set run.learners_per_rank=2 --set run.average_every=500

# Must-fail twin: the same first stop, resumed with the store zeroed (what a
# checkpoint without it gave): the run completes and its results differ.
mkdir -p "$tmp/twin"
tw1=$(status_of run 1 "$tmp/twin/x" "$job" --stop-after 2)
/usr/bin/python3 tests/learners/ckpt_forget.py "$tmp/twin/x/ep.h5.parts/point_000000.ckpt.h5" memory ||
    bad "twin: cannot edit the checkpoint"
tw2=$(status_of run 1 "$tmp/twin/x" "$job")
if [ "$tw1$tw2" = "30" ] && [ -f "$tmp/twin/x/ep.h5" ] && ! same "$tmp/np1/ref/ep.h5" "$tmp/twin/x/ep.h5"; then
    ok "twin: resuming without the per-example store gives different results (as it must)"
else
    bad "twin: statuses $tw1 $tw2, or resuming without the per-example store went unnoticed"
fi

finish
