# Helpers of the driver resume tests (tests/learners/resume*.sh), sourced
# after they set $flexcl and $mpiexec.

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
