#!/bin/sh
# The faults suite (docs/hardening.md): flexcl under a full disk, signals
# during a run, and odd rank counts with parallel HDF5. Every flexcl run
# here is under `timeout`, so a hang fails the test instead of stalling CI.
#   disk_full   output (one process) to a small tmpfs mounted by this test (as root; if
#               the mount fails the test FAILS): a clear one-line error, no
#               final .h5, and a results file already in that directory is
#               left byte for byte as it was
#   sigterm     SIGTERM to every rank in the middle of a run: exit 3, no
#               final .h5 (or, if the run had already finished, a complete
#               one); a rerun resumes and writes a complete file
#   sigkill     SIGKILL to every rank mid-run: no final .h5; a rerun resumes
#   odd_ranks   3 and 5 ranks, several grid points and learners: no hang, a
#               complete file
# usage: faults.sh FLEXCL MPIEXEC   (from the repository root, as root)
flexcl=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
mpiexec=$2
py=/usr/bin/python3
check=tests/faults/check_complete.py
T=$(mktemp -d)
mnt=$T/disk
cleanup() {
    mountpoint -q "$mnt" 2>/dev/null && umount "$mnt"
    rm -rf "$T"
}
trap cleanup EXIT
# shellcheck source=tests/check_lib.sh
. "$(dirname "$0")/../check_lib.sh"
check_name=faults
# A job of several short points (about 0.1 s each).
job=$T/points.ini
printf '[run]\nsteps = 400\neval_every = 200\n[model]\nn_hidden = 8\n[estimator]\nkind = isd\ntau = 20\nb = linspace(0.1, 0.9, 9)\n' >"$job"
many=$T/many.ini
printf '[run]\nsteps = 3000\neval_every = 500\n[model]\nn_hidden = 16\n[estimator]\nkind = isd\ntau = 20\nb = linspace(0.05, 0.95, 19)\n' >"$many"

# --- disk_full -------------------------------------------------------------
mkdir -p "$mnt"
if ! mount -t tmpfs -o size=320k tmpfs "$mnt"; then
    bad "disk_full: cannot mount a tmpfs at $mnt (the faults suite runs as root)"
else
    # An earlier, complete result in the same directory.
    timeout 120 "$flexcl" run jobs/examples/tiny.ini --out "$mnt" --quiet >/dev/null 2>&1
    sum_before=$(md5sum "$mnt/tiny.h5" 2>/dev/null)
    # One process: with 2 ranks ROMIO can hang on a full disk (docs/hardening.md).
    timeout 300 "$flexcl" run "$many" --out "$mnt" --quiet >"$T/df.out" 2>"$T/df.err"
    status=$?
    sum_after=$(md5sum "$mnt/tiny.h5" 2>/dev/null)
    msg=$(grep "^flexcl: error:" "$T/df.err")
    if [ -z "$sum_before" ]; then
        bad "disk_full: the earlier result could not be written"
    elif [ "$status" -eq 124 ]; then
        bad "disk_full: flexcl hung on a full disk"
    elif [ "$status" -eq 0 ]; then
        bad "disk_full: flexcl succeeded on a full disk (tmpfs too large?)"
    elif [ -e "$mnt/many.h5" ]; then
        bad "disk_full: a final many.h5 exists"
    elif [ "$sum_before" != "$sum_after" ]; then
        bad "disk_full: the earlier result changed"
    elif [ "$status" -ge 128 ]; then
        bad "disk_full: killed by signal $((status - 128)): $(head -3 "$T/df.err")"
    elif [ "$(echo "$msg" | wc -l)" -ne 1 ] || ! echo "$msg" | grep -qi "no space left on device"; then
        bad "disk_full: no single clear error line (status $status): $(head -5 "$T/df.err")"
    elif ! $py "$check" "$mnt/tiny.h5" 1 >"$T/df.check"; then
        bad "disk_full: the earlier result is no longer complete: $(cat "$T/df.check")"
    else
        ok "disk_full (exit $status): $msg"
    fi
    umount "$mnt"
fi

# Run the job on 2 ranks in the background, send SIGNAL to every rank after
# DELAY seconds, wait; prints the exit status.
signal_run() {
    sig=$1 delay=$2 out=$3
    timeout 300 "$mpiexec" -n 2 "$flexcl" run "$many" --out "$out" --quiet >"$T/sig.out" 2>"$T/sig.err" &
    launcher=$!
    sleep "$delay"
    # The ranks: processes named flexcl running this job (not the launcher,
    # whose command line holds the same words, nor anybody else's flexcl).
    for p in $(pgrep -f "run $many"); do
        [ "$(cat "/proc/$p/comm" 2>/dev/null)" = flexcl ] && kill -s "$sig" "$p" 2>/dev/null
    done
    wait "$launcher"
    echo $?
}

# --- sigterm ---------------------------------------------------------------
out=$T/term
status=$(signal_run TERM 2 "$out")
if [ "$status" -eq 124 ]; then
    bad "sigterm: hung"
elif [ "$status" -eq 3 ] && [ ! -e "$out/many.h5" ] && [ -f "$out/many.h5.parts/manifest" ]; then
    kept=$(ls "$out/many.h5.parts" | grep -c '[0-9]\.h5$')
    timeout 300 "$mpiexec" -n 2 "$flexcl" run "$many" --out "$out" --quiet >"$T/resume.out" 2>&1
    rs=$?
    if [ "$rs" -eq 0 ] && $py "$check" "$out/many.h5" 19 >"$T/check" && [ ! -e "$out/many.h5.parts" ]; then
        ok "sigterm: exit 3, no final file, $kept point(s) kept; the rerun resumed and completed"
    else
        bad "sigterm: rerun exit $rs: $(cat "$T/check" "$T/resume.out" | head -5)"
    fi
elif [ "$status" -eq 0 ] && $py "$check" "$out/many.h5" 19 >/dev/null; then
    ok "sigterm: the run had finished; its file is complete"
else
    bad "sigterm: exit $status, final file: $(ls "$out" 2>&1); stderr: $(head -3 "$T/sig.err")"
fi

# --- sigkill ---------------------------------------------------------------
out=$T/kill
status=$(signal_run KILL 2 "$out")
if [ -e "$out/many.h5" ] && ! $py "$check" "$out/many.h5" 19 >/dev/null; then
    bad "sigkill: a final many.h5 that is not complete"
elif [ -e "$out/many.h5" ]; then
    ok "sigkill: the run had finished; its file is complete"
else
    timeout 300 "$mpiexec" -n 2 "$flexcl" run "$many" --out "$out" --quiet >"$T/resume.out" 2>&1
    rs=$?
    if [ "$rs" -eq 0 ] && $py "$check" "$out/many.h5" 19 >"$T/check"; then
        ok "sigkill: no final file after the kill (exit $status); the rerun completed"
    else
        bad "sigkill: rerun exit $rs: $(cat "$T/check" "$T/resume.out" | head -5)"
    fi
fi

# --- odd rank counts -------------------------------------------------------
for np in 3 5; do
    out=$T/np$np
    timeout 300 "$mpiexec" -n $np --oversubscribe "$flexcl" run "$job" --out "$out" \
        --set run.learners_per_rank=2 --quiet >"$T/np.out" 2>"$T/np.err"
    status=$?
    if [ "$status" -eq 124 ]; then
        bad "odd_ranks np=$np: hung (killed after 300 s)"
    elif [ "$status" -ne 0 ]; then
        bad "odd_ranks np=$np: exit $status: $(head -3 "$T/np.err")"
    elif ! $py "$check" "$out/points.h5" 9 >"$T/check"; then
        bad "odd_ranks np=$np: $(cat "$T/check")"
    else
        ok "odd_ranks np=$np: complete, 9 points x $((2 * np)) learners"
    fi
done

finish
