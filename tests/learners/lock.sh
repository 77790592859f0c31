#!/bin/sh
# The lock of a parts directory (docs/checkpoint.md, "One run per parts
# directory"): `flexcl run` holds OUT.parts/lock ("HOST PID") while it
# works, so that a second copy of the same command, started by hand while
# the first runs, refuses instead of writing the same parts and checkpoints.
#
# Every assertion fails when the feature is missing, without any testing
# hook in flexcl: the lock file must appear while a run works (it would not
# exist), `flexcl status` must call that run "running" with its pid (it
# would say missing), the second copy must exit 2 with one line naming the
# pid and host (it would run and exit 0), a stale lock must be replaced with
# one warning line (there would be no line, and the leftover file would keep
# the parts directory from being removed), and the lock must be gone after a
# success, a SIGTERM stop and an error (each checked after seeing it exist).
# Results are compared bit for bit with an uninterrupted run (h5diff of
# /points and /index). The first run is paused with SIGSTOP while the
# second copy and status look at it, so nothing depends on how long the run
# takes. About 30 s.
# usage: lock.sh FLEXCL MPIEXEC   (from the repository root)
set -eu
flexcl="$1"
mpiexec="$2"
. "$(dirname "$0")/resume_lib.sh"
tmp=$(mktemp -d)
bg=""
cleanup() {
    if [ -n "$bg" ]; then
        kill -CONT "$bg" 2>/dev/null || true
        kill -KILL "$bg" 2>/dev/null || true
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT
export OMP_NUM_THREADS=1
host=$(hostname -s)
t_start=$(date +%s)

# One task of a small BAS job, about 2 s of training on one core.
job=jobs/examples/tiny.ini
args="--task 0 --tasks 1 --set run.steps=10000000 --set run.eval_every=1000000"
parts_of() { echo "$1/task_0.h5.parts"; }

# start DIR: flexcl alone (a singleton, so $bg is rank 0's pid) in the
# background, output in DIR.log.
start() {
    # shellcheck disable=SC2086
    "$flexcl" run "$job" $args --out "$1" >"$1.log" 2>&1 &
    bg=$!
}

# wait_for SECONDS CONDITION: poll CONDITION every 0.1 s while the
# background run lives; 1 when it never held.
wait_for() {
    n=0
    while ! eval "$2"; do
        kill -0 "$bg" 2>/dev/null || { eval "$2"; return; }
        [ "$n" -lt $(($1 * 10)) ] || return 1
        sleep 0.1
        n=$((n + 1))
    done
}

# reap: wait for the background run (in this shell: it is our child);
# its exit status in $fin.
reap() {
    fin=0
    wait "$bg" || fin=$?
    bg=""
}

# exit_of OUT ERR CMD...: CMD with stdout in OUT and stderr in ERR; prints
# its exit status.
exit_of() {
    o=$1 e=$2
    shift 2
    st=0
    "$@" >"$o" 2>"$e" || st=$?
    echo "$st"
}

# second DIR: the same command again, as a singleton; prints its exit
# status; stdout and stderr in DIR.2.{out,err}.
second() {
    # shellcheck disable=SC2086
    exit_of "$1.2.out" "$1.2.err" "$flexcl" run "$job" $args --out "$1"
}

# listing DIR: names, sizes and modification times of what DIR holds but
# its lock, and the manifest's checksum.
listing() {
    ls -l --time-style=+%s.%N "$1" 2>&1 | sed 1d | grep -v ' lock$' || true
    md5sum "$1/manifest" 2>&1 || true
}

# The uninterrupted reference.
mkdir -p "$tmp/ref"
# shellcheck disable=SC2086
if ! run 1 "$tmp/ref/x" "$job" $args; then
    bad "reference run failed: $(cat "$tmp/ref/x.log")"
    finish
fi
ref="$tmp/ref/x/task_0.h5"

# --- a second copy while the first runs ------------------------------------
out="$tmp/live"
parts=$(parts_of "$out")
start "$out"
pid=$bg
if ! wait_for 60 '[ -s "$parts/lock" ]'; then
    reap
    bad "live: no $parts/lock while the run works (exit $fin): $(cat "$out.log")"
else
    kill -STOP "$pid"
    lock=$(cat "$parts/lock" 2>/dev/null || true)
    "$flexcl" status "$out" --no-slurm >"$out.status" 2>&1 || true
    before=$(listing "$parts")
    st2=$(second "$out")
    # Two ranks agree on the refusal too (mpiexec adds its own lines).
    # shellcheck disable=SC2086
    st3=$(exit_of "$out.3.log" "$out.3.log" "$mpiexec" -n 2 --oversubscribe "$flexcl" run "$job" \
        $args --out "$out")
    after=$(listing "$parts")
    kill -CONT "$pid"
    reap
    st1=$fin
    want="$out/task_0.h5.parts is in use by pid $pid on $host ($parts/lock); not starting a second copy"
    if [ "$lock" != "$host $pid" ]; then
        bad "live: the lock holds '$lock', expected '$host $pid'"
    elif ! grep -Eq "^0 +running +0/1 +pid $pid on $host\$" "$out.status"; then
        bad "live: flexcl status does not call task 0 running as pid $pid on $host: $(cat "$out.status")"
    elif [ "$st2" -ne 2 ] || [ "$(wc -l <"$out.2.err")" -ne 1 ] ||
        [ "$(cat "$out.2.err")" != "flexcl: error: $want" ]; then
        bad "live: the second copy gave exit status $st2 and stderr: $(cat "$out.2.err")"
    elif [ "$st3" -ne 2 ] || ! grep -qF "flexcl: error: $want" "$out.3.log"; then
        bad "live: the second copy on 2 ranks gave exit status $st3: $(cat "$out.3.log")"
    elif [ "$before" != "$after" ]; then
        bad "live: the second copies changed the first run's parts directory"
    elif [ "$st1" -ne 0 ]; then
        bad "live: the first run failed (exit $st1): $(cat "$out.log")"
    elif ! same "$ref" "$out/task_0.h5"; then
        bad "live: the first run's results differ from the uninterrupted run"
    elif [ -e "$parts" ]; then
        bad "live: $parts (lock: $(cat "$parts/lock" 2>/dev/null)) left behind after success"
    else
        ok "a second copy refuses (exit 2) while the first runs: $(cat "$out.2.err")"
        ok "flexcl status: $(grep '^0 ' "$out.status")"
        ok "the first run completes, bitwise the uninterrupted one, and removes its lock"
    fi
fi

# --- stale locks are replaced; a fresh one from another host is not --------
# stale_case NAME LOCK_LINE TOUCH_AGE WANT: a lock written by hand, the run
# must complete with exactly one stderr line matching WANT.
stale_case() {
    out="$tmp/$1"
    parts=$(parts_of "$out")
    mkdir -p "$parts"
    echo "$2" >"$parts/lock"
    [ -z "$3" ] || touch -d "$3" "$parts/lock"
    # shellcheck disable=SC2086
    st=$(exit_of "$out.out" "$out.err" "$flexcl" run "$job" $args --out "$out" --quiet)
    if [ "$st" -ne 0 ]; then
        bad "$1: exit status $st: $(cat "$out.err")"
    elif [ "$(wc -l <"$out.err")" -ne 1 ] || ! grep -Eq "$4" "$out.err"; then
        bad "$1: expected one line matching '$4' on stderr, got: $(cat "$out.err")"
    elif ! same "$ref" "$out/task_0.h5"; then
        bad "$1: results differ from the uninterrupted run"
    elif [ -e "$parts" ]; then
        bad "$1: $parts left behind"
    else
        ok "$1: $(cat "$out.err"); the run completed, bitwise identical"
    fi
}
dead=999999
while kill -0 "$dead" 2>/dev/null; do dead=$((dead + 1)); done
stale_case stale_dead_pid "$host $dead" "" \
    "^flexcl: warning: replaced the stale lock .*/lock of pid $dead on $host \(that process is not running\)\$"
stale_case stale_other_host "flexcl-test-nohost 4242" "4 minutes ago" \
    "^flexcl: warning: replaced the stale lock .*/lock of pid 4242 on flexcl-test-nohost \(not touched for [0-9]+ s\)\$"

# A lock from another host touched a minute ago (within 3 heartbeats) is live.
out="$tmp/fresh_other_host"
parts=$(parts_of "$out")
mkdir -p "$parts"
echo "flexcl-test-nohost 4242" >"$parts/lock"
touch -d "1 minute ago" "$parts/lock"
st=$(second "$out")
if [ "$st" -eq 2 ] && [ "$(wc -l <"$out.2.err")" -eq 1 ] &&
    grep -Eq "in use by pid 4242 on flexcl-test-nohost \($parts/lock, touched [0-9]+ s ago\); not starting a second copy\$" "$out.2.err" &&
    [ "$(cat "$parts/lock")" = "flexcl-test-nohost 4242" ] && [ ! -e "$parts/manifest" ]; then
    ok "a lock from another host touched a minute ago refuses: $(cat "$out.2.err")"
else
    bad "fresh lock of another host: exit status $st, stderr: $(cat "$out.2.err")"
fi

# --- the lock goes on a SIGTERM stop and on an error -----------------------
out="$tmp/term"
parts=$(parts_of "$out")
start "$out"
if ! wait_for 60 '[ -s "$parts/lock" ] && [ -e "$parts/000000.h5.partial" ]'; then
    reap
    bad "sigterm: no lock while the run works (exit $fin): $(cat "$out.log")"
else
    kill -TERM "$bg"
    reap
    st=$fin
    "$flexcl" status "$out" --no-slurm >"$out.status" 2>&1 || true
    ckpt=$(ls "$parts" | grep -c 'ckpt\.h5$' || true)
    # shellcheck disable=SC2086
    if [ "$st" -ne 3 ]; then
        bad "sigterm: exit status $st, expected 3: $(cat "$out.log")"
    elif [ -e "$parts/lock" ]; then
        bad "sigterm: $parts/lock left behind after the stop"
    elif [ "$ckpt" -ne 1 ]; then
        bad "sigterm: no checkpoint written: $(ls "$parts")"
    elif ! grep -Eq "^0 +checkpointed " "$out.status"; then
        bad "sigterm: status after the stop: $(cat "$out.status")"
    elif ! run 1 "$out" "$job" $args; then
        bad "sigterm: the resumed run failed: $(cat "$out.log")"
    elif ! same "$ref" "$out/task_0.h5" || [ -e "$parts" ]; then
        bad "sigterm: the resumed run differs from the uninterrupted one or left $parts"
    else
        ok "SIGTERM: exit 3 with a checkpoint and no lock; status checkpointed; the resumed run is bitwise identical"
    fi
fi

# An error after the lock was taken (a damaged checkpoint) removes it too
# and leaves every saved file in place. The run starts on a stale lock (a
# dead pid), so the lock is seen taken (the warning) before it must be gone.
out="$tmp/error"
parts=$(parts_of "$out")
# shellcheck disable=SC2086
st1=$(status_of run 1 "$out" "$job" $args --stop-after 3)
ck="$parts/point_000000.ckpt.h5"
if [ "$st1" -eq 3 ] && [ -f "$ck" ]; then
    echo "not a checkpoint" >"$ck"
    echo "$host $dead" >"$parts/lock"
    before=$(listing "$parts")
    st2=$(second "$out")
    after=$(listing "$parts")
    if [ "$st2" -eq 2 ] && [ ! -e "$parts/lock" ] && [ "$before" = "$after" ] &&
        [ "$(wc -l <"$out.2.err")" -eq 2 ] &&
        grep -q "^flexcl: warning: replaced the stale lock .* of pid $dead on $host" "$out.2.err" &&
        grep -q "^flexcl: error: .*point_000000.ckpt.h5" "$out.2.err"; then
        ok "an error after taking the lock removes it and nothing else: $(grep error "$out.2.err")"
    else
        bad "error: exit status $st2 (expected 2), lock $([ -e "$parts/lock" ] && echo present || echo gone), files $( [ "$before" = "$after" ] && echo unchanged || echo changed): $(cat "$out.2.err")"
    fi
else
    bad "error: --stop-after 3 gave exit status $st1 and no checkpoint: $(cat "$out.log")"
fi

finish " ($(($(date +%s) - t_start)) s)"
