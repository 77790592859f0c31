#!/bin/sh
# Kill and resume: one task of jobs/examples/array.ini (5 grid points) is
# interrupted again and again with SIGKILL (a node crash: nothing is
# flushed) and SIGUSR1 (a preemption notice: flexcl stops cleanly with exit
# status 3) at pseudo-random times from a fixed seed, resumed each time,
# and its result must equal an uninterrupted run bit for bit (h5diff of
# every dataset and attribute under /points and /index; the provenance
# attributes on / record times and differ by design). Once on 1 rank
# (flexcl alone) and once on 2 ranks under mpiexec, where SIGKILL hits the
# ranks. `flexcl status` must call a killed task checkpointed.
# usage: kill.sh FLEXCL MPIEXEC   (from the repository root)
set -eu
flexcl=$1
mpiexec=$2
# Task 0 of 2 (grid points 0-4), shortened to about half a second a point.
job_args="jobs/examples/array.ini --task 0 --tasks 2 --set run.steps=1000000 --set run.eval_every=250000"
# Ranks that wait in MPI yield the core: the machine may be shared.
export OMPI_MCA_mpi_yield_when_idle=1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# shellcheck source=tests/check_lib.sh
. "$(dirname "$0")/../check_lib.sh"
check_ok="ok: "
check_fail="FAIL: "
check_t0=$(date +%s)

# Signal and delay of each interruption: awk's rand() with a fixed seed,
# so every run of the test makes the same schedule. The signals alternate
# from a drawn first one, so the first two rounds already hold both kinds.
# Delays are in units of one grid point's run time (point_s, measured by
# the reference run from its first logged step, as the rounds count their
# delays, so the schedule means the same on a loaded machine): SCALE x
# 0.05 .. 1.5 points after the run starts its first grid point.
schedule() {
    awk -v seed="$1" -v n="$2" -v point="$point_s" -v scale="$3" 'BEGIN {
        srand(seed)
        first = rand() < 0.5
        for (i = 0; i < n; i++)
            printf "%s %.2f\n", (i % 2 == first) ? "KILL" : "USR1", scale * point * (0.05 + 1.45 * rand()) }'
}

# start_run RANKS OUT ERR: start flexcl on OUT in the background (pid in
# $pid, its log in ERR) and wait until it logs its first step or resumes
# from a within-point checkpoint: its signal handlers are in place by then.
start_run() {
    : >"$3"
    if [ "$1" -eq 1 ]; then
        "$flexcl" run $job_args --out "$2" 2>"$3" >/dev/null &
    else
        "$mpiexec" -n "$1" "$flexcl" run $job_args --out "$2" 2>"$3" >/dev/null &
    fi
    pid=$!
    n=0
    while ! grep -Eq "step [0-9]+/|resumed from" "$3" && kill -0 "$pid" 2>/dev/null &&
        [ "$n" -lt 300 ]; do
        sleep 0.1
        n=$((n + 1))
    done
}

# reference RANKS OUT: the uninterrupted run; sets point_s, the seconds a
# grid point takes from the first logged step to the end (start-up, which
# the rounds do not count either, left out).
reference() {
    start_run "$1" "$2" "$tmp/ref.err"
    t0=$(date +%s.%N)
    wait "$pid" || stop "the uninterrupted run on $1 rank(s) failed: $(tail -n 3 "$tmp/ref.err")"
    point_s=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", (b - a) / 5 }')
}

# run_interrupted RANKS OUT SEED ROUNDS SCALE: interrupt, resume, ...,
# finish; counts the interruptions in $kills and $stops.
run_interrupted() {
    ranks=$1 out=$2
    kills=0 stops=0 rounds=0 resumes=0 parts=0
    schedule "$3" "$4" "$5" >"$tmp/schedule"
    while read -r sig delay; do
        [ "$parts" -eq 0 ] || resumes=$((resumes + 1))
        start_run "$ranks" "$out" "$tmp/round.err"
        sleep "$delay"
        if [ "$sig" = KILL ] && [ "$ranks" -gt 1 ]; then
            # The ranks themselves die, as on a crashed node; mpiexec follows.
            pkill -KILL -P "$pid" 2>/dev/null || true
        else
            kill -"$sig" "$pid" 2>/dev/null || true
        fi
        set +e
        wait "$pid"
        st=$?
        set -e
        rounds=$((rounds + 1))
        parts=$(ls "$out/task_0.h5.parts" 2>/dev/null | grep -c '^[0-9]*\.h5$' || true)
        echo "round $rounds: SIG$sig after ${delay}s -> exit status $st, $parts point(s) saved"
        case "$st" in
        0) break ;;                                  # finished before the signal
        3) [ "$sig" = USR1 ] || stop "exit status 3 without SIGUSR1"; stops=$((stops + 1)) ;;
        *) [ "$sig" = KILL ] || stop "SIGUSR1 gave exit status $st, expected 3"; kills=$((kills + 1)) ;;
        esac
        if [ "$sig" = KILL ] && [ "$parts" -gt 0 ] && [ "$ranks" -eq 1 ] && [ ! -f "$out/task_0.h5" ]; then
            "$flexcl" status "$out" --tasks 2 --no-slurm >"$tmp/status"
            grep -Eq "^0 +checkpointed +$parts/5 " "$tmp/status" ||
                stop "status after SIGKILL with $parts points saved: $(cat "$tmp/status")"
        fi
    done <"$tmp/schedule"
    if [ ! -f "$out/task_0.h5" ]; then
        if [ "$ranks" -eq 1 ]; then "$flexcl" run $job_args --out "$out" --quiet 2>>"$tmp/log"
        else "$mpiexec" -n "$ranks" "$flexcl" run $job_args --out "$out" --quiet >>"$tmp/log" 2>&1
        fi
    fi
}

# series RANKS OUT SEED ROUNDS: run_interrupted on OUT until the schedule
# has interrupted with both signals and a run has resumed saved points.
# Should the grid finish first (the machine ran faster than the reference
# said), the series starts again on a fresh directory with the delays
# halved, at most twice; the ok line reports the scale used.
series() {
    scale=1
    for attempt in 1 2 3; do
        out=$2.$attempt
        run_interrupted "$1" "$out" "$3" "$4" "$scale"
        [ "$kills" -eq 0 ] || [ "$stops" -eq 0 ] || [ "$resumes" -eq 0 ] || return 0
        [ "$attempt" -lt 3 ] || break
        scale=$(awk -v s="$scale" 'BEGIN { print s / 2 }')
        echo "the grid finished after $kills SIGKILL, $stops SIGUSR1 and $resumes resumed runs: again with delays x$scale"
    done
    stop "$4 rounds on $1 rank(s) interrupted with $kills SIGKILL and $stops SIGUSR1, $resumes resumed runs, at delays x$scale of ${point_s}s a point; need both signals and a resume"
}

compare() {
    h5diff "$1" "$2" /points /points || stop "$2: /points differ from the uninterrupted run"
    h5diff "$1" "$2" /index /index || stop "$2: /index differs from the uninterrupted run"
}

# 1 rank: flexcl alone (a singleton MPI process).
reference 1 "$tmp/ref1"
series 1 "$tmp/int1" 20231 6
compare "$tmp/ref1/task_0.h5" "$out/task_0.h5"
ok "1 rank: $((kills + stops)) interruptions ($kills SIGKILL, $stops SIGUSR1; $resumes runs resumed saved points; ${point_s}s a point, delays x$scale), result identical"

# 2 ranks under mpiexec, with points half as long (MPI start-up and two
# ranks on a shared 2-core machine make each round slower).
job_args="$job_args --set run.steps=500000"
reference 2 "$tmp/ref2"
series 2 "$tmp/int2" 7 4
compare "$tmp/ref2/task_0.h5" "$out/task_0.h5"
ok "2 ranks: $((kills + stops)) interruptions ($kills SIGKILL, $stops SIGUSR1; $resumes runs resumed saved points; ${point_s}s a point, delays x$scale), result identical"
finish
