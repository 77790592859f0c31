#!/bin/sh
# The faults suite (docs/hardening.md): flexcl under a full disk, signals
# during a run, and odd rank counts with parallel HDF5. Every flexcl run
# here is under `timeout`, so a hang fails the test instead of stalling CI.
#   disk_full   output (one process) to a small tmpfs mounted by this test (as root; if
#               the mount fails the test FAILS): a clear one-line error, no
#               final .h5, and a results file already in that directory is
#               left byte for byte as it was
#   disk_full_np2, disk_full_np3
#               the same at 2 and 3 ranks, where a write failing on one rank
#               inside a collective HDF5 call used to leave the others waiting
#               for ever: every rank exits non-zero, one error line, nothing
#               left half-written, no hang. At 2 ranks the disk fills first in
#               a grid point, then (a rerun with room for the remaining points
#               only) while the parts are assembled into the final file; a
#               rerun with the disk still full must fail the same way (the
#               must-fail twin of the resume); with room, the rerun resumes
#               and its results are bitwise those of an uninterrupted run
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
    # One process (disk_full_np2 below runs 2 ranks).
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

# --- disk_full_np2, disk_full_np3 ------------------------------------------
# ranked_run TAG NP [ARGS...]: `flexcl run $many --out $mnt ARGS` on NP ranks
# under a timeout; stdout and stderr in $T/TAG.out and $T/TAG.err, and each
# rank's own exit status in $T/TAG.rank.R (written by a wrapper that then
# exits 0, so that mpiexec does not kill a rank before it has finished on
# its own). Prints the launcher's exit status (124: hung).
ranked_run() {
    tag=$1 np=$2
    shift 2
    rm -f "$T/$tag".rank.*
    # shellcheck disable=SC2016 # expanded by the wrapper's shell
    timeout 120 "$mpiexec" -n "$np" --oversubscribe \
        sh -c 'st=$1; shift; "$@"; echo $? >"$st.${OMPI_COMM_WORLD_RANK:-x}"' sh "$T/$tag.rank" \
        "$flexcl" run "$many" --out "$mnt" "$@" >"$T/$tag.out" 2>"$T/$tag.err"
    echo $?
}

# full_disk_failure TAG NP STATUS FILE: the checks of a run that must fail
# for want of space: no hang, every rank exited non-zero (not by a signal),
# exactly one error line, naming "No space left on device" and a file under
# $mnt/FILE, no final many.h5, no *.partial file left, no lock, every rank
# left through MPI_Finalize (mpiexec says "exiting improperly" otherwise),
# and the earlier result unchanged. Sets $why (the failed check) or $msg
# (the error line); returns 1 when a check failed.
full_disk_failure() {
    tag=$1 np=$2 st=$3 file=$4
    msg=$(grep "^flexcl: error:" "$T/$tag.err")
    ranks="" failing=0
    r=0
    while [ "$r" -lt "$np" ]; do
        rs=$(cat "$T/$tag.rank.$r" 2>/dev/null || echo none)
        ranks="$ranks $rs"
        case $rs in
        [1-9] | [1-9][0-9] | 1[01][0-9] | 12[0-7]) failing=$((failing + 1)) ;;
        esac
        r=$((r + 1))
    done
    why=""
    if [ "$st" -eq 124 ]; then
        why="hung (killed after 120 s); rank statuses:$ranks"
    elif [ "$failing" -ne "$np" ]; then
        why="rank exit statuses$ranks (every rank must exit non-zero, not by a signal)"
    elif [ "$(echo "$msg" | grep -c .)" -ne 1 ]; then
        why="not exactly one error line: $(head -5 "$T/$tag.err")"
    elif ! echo "$msg" | grep -qi "no space left on device" || ! echo "$msg" | grep -qF "$mnt/$file"; then
        why="the error does not name the full disk and $mnt/$file: $msg"
    elif grep -q "improperly" "$T/$tag.err"; then
        why="a rank left without MPI_Finalize: $(head -3 "$T/$tag.err")"
    elif [ -e "$mnt/many.h5" ]; then
        why="a final many.h5 exists"
    elif [ -n "$(find "$mnt" -name '*.partial')" ]; then
        why="left behind: $(find "$mnt" -name '*.partial' | tr '\n' ' ')"
    elif [ -e "$mnt/many.h5.parts/lock" ]; then
        why="the parts lock is left behind"
    elif [ "$(md5sum "$mnt/tiny.h5" 2>/dev/null)" != "$sum_before" ]; then
        why="the earlier result changed"
    fi
    [ -z "$why" ]
}

# kept_parts: the number of finished grid points in $mnt/many.h5.parts.
kept_parts() {
    find "$mnt/many.h5.parts" -maxdepth 1 -name '[0-9]*[0-9].h5' 2>/dev/null | grep -c .
}

mkdir -p "$mnt"
ref=$T/ref
timeout 300 "$mpiexec" -n 2 "$flexcl" run "$many" --out "$ref" --quiet >"$T/ref.out" 2>&1 ||
    bad "disk_full_np2: the uninterrupted reference run failed: $(head -3 "$T/ref.out")"
for np in 2 3; do
    name=disk_full_np$np
    if ! mount -t tmpfs -o size=320k tmpfs "$mnt"; then
        bad "$name: cannot mount a tmpfs at $mnt (the faults suite runs as root)"
        continue
    fi
    timeout 120 "$flexcl" run jobs/examples/tiny.ini --out "$mnt" --quiet >/dev/null 2>&1
    sum_before=$(md5sum "$mnt/tiny.h5" 2>/dev/null)
    if [ -z "$sum_before" ]; then
        bad "$name: the earlier result could not be written"
        umount "$mnt"
        continue
    fi
    # 1. The disk fills while a grid point is written.
    st=$(ranked_run "$name.point" "$np" --quiet)
    kept=$(kept_parts)
    if ! full_disk_failure "$name.point" "$np" "$st" "many.h5.parts/"; then
        bad "$name: full in a grid point: $why"
    elif [ "$kept" -lt 1 ] || [ ! -f "$mnt/many.h5.parts/manifest" ]; then
        bad "$name: full in a grid point: no finished grid point kept ($kept)"
    elif ! $py "$check" "$mnt/tiny.h5" 1 >"$T/df.check"; then
        bad "$name: the earlier result is no longer complete: $(cat "$T/df.check")"
    else
        ok "$name: full in a grid point: every rank exit 1, $kept point(s) kept; $msg"
    fi
    if [ "$np" -ne 2 ] || [ "$kept" -lt 1 ]; then
        umount "$mnt"
        continue
    fi
    # 2. The must-fail twin of the resume: rerun with the disk still full.
    st=$(ranked_run "$name.twin" "$np" --quiet)
    if ! full_disk_failure "$name.twin" "$np" "$st" "many.h5.parts/"; then
        bad "$name: rerun on the still full disk: $why"
    elif [ "$(kept_parts)" -ne "$kept" ]; then
        bad "$name: rerun on the still full disk: $(kept_parts) point(s) kept, $kept before"
    else
        ok "$name: rerun on the still full disk fails the same way (as it must), $kept point(s) kept"
    fi
    # 3. Room for the remaining grid points (their average size each, and
    # 256 KiB for the reservations ahead of the writes) but not for the
    # final file: the disk fills while the parts are assembled.
    part_kib=$(du -sk "$mnt/many.h5.parts" | cut -f1)
    used_kib=$(df -k "$mnt" | awk 'NR == 2 { print $3 }')
    size_kib=$((used_kib + part_kib * (19 - kept) / kept + 256))
    mount -o remount,size=${size_kib}k "$mnt" || bad "$name: cannot grow the tmpfs to ${size_kib} KiB"
    st=$(ranked_run "$name.assembly" "$np" --quiet)
    if ! full_disk_failure "$name.assembly" "$np" "$st" "many.h5.partial"; then
        bad "$name: full in the assembly (${size_kib} KiB): $why"
    elif [ "$(kept_parts)" -ne 19 ]; then
        bad "$name: full in the assembly: $(kept_parts) of 19 grid points kept"
    else
        ok "$name: full in the assembly of the final file (${size_kib} KiB): every rank exit 1, 19 points kept"
    fi
    # 4. With room, the rerun resumes and completes, bitwise the uninterrupted run.
    mount -o remount,size=4m "$mnt" || bad "$name: cannot grow the tmpfs to 4 MiB"
    st=$(ranked_run "$name.resume" "$np")
    ranks="$(cat "$T/$name.resume.rank.0" 2>/dev/null) $(cat "$T/$name.resume.rank.1" 2>/dev/null)"
    resumed=$(sed -n 's/.*resumed: \([0-9]*\) of 19 point.*/\1/p' "$T/$name.resume.err")
    if [ "$st" -ne 0 ] || [ "$ranks" != "0 0" ]; then
        bad "$name: the rerun with room failed (launcher $st, ranks $ranks): $(head -3 "$T/$name.resume.err")"
    elif [ "${resumed:-0}" -ne 19 ]; then
        bad "$name: the rerun did not resume from the 19 kept points (resumed: ${resumed:-none})"
    elif ! $py "$check" "$mnt/many.h5" 19 >"$T/df.check"; then
        bad "$name: the resumed result is not complete: $(cat "$T/df.check")"
    elif [ -e "$mnt/many.h5.parts" ]; then
        bad "$name: many.h5.parts left behind after the complete rerun"
    elif ! h5diff "$ref/many.h5" "$mnt/many.h5" /points /points >/dev/null 2>&1 ||
        ! h5diff "$ref/many.h5" "$mnt/many.h5" /index /index >/dev/null 2>&1; then
        bad "$name: the resumed result differs from the uninterrupted run"
    else
        ok "$name: with room the rerun resumed from the 19 kept points; bitwise the uninterrupted run"
    fi
    umount "$mnt"
done

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
