# Helpers of the driver resume and lock tests (tests/learners/*.sh), sourced
# after they set $flexcl and $mpiexec.

# ok WHAT / bad WHAT: report a check and count it ("ok: WHAT", "FAIL: WHAT");
# finish: the summary line and the script's exit (non-zero when a check
# failed). From tests/check_lib.sh ($0 is the sourcing test's own path).
# shellcheck source=tests/check_lib.sh
. "$(dirname "$0")/../check_lib.sh"
check_ok="ok: "
check_fail="FAIL: "

# run NP DIR JOB [args...]: the driver's exit status, output in DIR.log
run() {
    np=$1 dir=$2 job=$3
    shift 3
    st=0
    "$mpiexec" -n "$np" --oversubscribe "$flexcl" run "$job" --out "$dir" --quiet "$@" \
        >"$dir.log" 2>&1 || st=$?
    return $st
}

# status_of CMD...: print CMD's exit status (never stops the script).
status_of() {
    st=0
    "$@" || st=$?
    echo $st
}

# same REF OUT: every dataset and attribute of the grid points and the index
# identical; $same_exclude (h5diff options, e.g. --exclude-path of a
# wall-time dataset) applies to /points.
same() {
    # shellcheck disable=SC2086
    h5diff ${same_exclude:-} "$1" "$2" /points /points >/dev/null 2>&1 &&
        h5diff "$1" "$2" /index /index >/dev/null 2>&1
}

# resume_case NAME NP JOB "K1 K2 ..." [args...]: run JOB uninterrupted into
# $tmp/NAME/ref, then in $tmp/NAME/cut stop it at the K-th safe point of
# each invocation in turn (each must exit 3 and leave the parts manifest),
# finish it, and require results bitwise equal to the reference with no
# parts directory left. When $after_stop names a function, it is called as
# FN NAME CUTDIR STEM K after every stop and fails the case by returning
# non-zero (it reports with bad). Needs $tmp, ok and bad.
resume_case() {
    name=$1 np=$2 job=$3 stops=$4
    shift 4
    stem=$(basename "$job" .ini)
    mkdir -p "$tmp/$name"
    run "$np" "$tmp/$name/ref" "$job" "$@" || { bad "$name: uninterrupted run failed"; cat "$tmp/$name/ref.log"; return; }
    where=""
    for k in $stops; do
        st=$(status_of run "$np" "$tmp/$name/cut" "$job" --stop-after "$k" "$@")
        if [ "$st" -ne 3 ]; then
            bad "$name: --stop-after $k gave exit status $st, expected 3"
            cat "$tmp/$name/cut.log"
            return
        fi
        if [ ! -f "$tmp/$name/cut/$stem.h5.parts/manifest" ]; then
            bad "$name: no $stem.h5.parts/manifest after --stop-after $k"
            return
        fi
        at=$(sed -n 's/.*at \([a-z ()]*\) \([0-9]*\) of grid point \([0-9]*\).*/p\3:\1 \2/p' "$tmp/$name/cut.log" | head -n 1)
        where="$where [$at]"
        if [ -n "${after_stop:-}" ] && ! "$after_stop" "$name" "$tmp/$name/cut" "$stem" "$k"; then
            return
        fi
    done
    n_ckpt=$(ls "$tmp/$name/cut/$stem.h5.parts" | grep -c 'ckpt\.h5$' || true)
    run "$np" "$tmp/$name/cut" "$job" "$@" || { bad "$name: resumed run failed"; cat "$tmp/$name/cut.log"; return; }
    if ! same "$tmp/$name/ref/$stem.h5" "$tmp/$name/cut/$stem.h5"; then
        bad "$name: resumed results differ from the uninterrupted run"
        return
    fi
    if [ -e "$tmp/$name/cut/$stem.h5.parts" ]; then
        bad "$name: $stem.h5.parts left behind"
        return
    fi
    ok "$name: stopped at safe points $stops (at$where; $n_ckpt checkpoint file(s) at the end), resumed, bitwise identical"
}
