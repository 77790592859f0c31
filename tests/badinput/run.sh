#!/bin/sh
# The bad-input matrix: every case file in tests/badinput/ must make flexcl
# exit with status 2, print exactly one line on stderr that matches the
# case's "# expect: REGEX" (grep -E; its first line), and leave no file
# that looks complete: no new *.h5 file anywhere in the case's scratch
# directory, and every *.h5 file that was there before unchanged.
#   NAME.ini   a job file, run as: flexcl run NAME.ini --out SCRATCH/out
#              (plus the words of an optional "# args: ..." line)
#   NAME.case  a shell fragment that prepares files in $T and calls
#              run_flexcl ARGS... once ($GOOD is jobs/examples/tiny.ini,
#              $SEEDS the fuzz seed results files, $HERE this directory)
# usage: run.sh FLEXCL [CASE...]   (from the repository root)
flexcl=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
shift
# Each case is one MPI process; a self-contained singleton starts in half
# the time (no orted).
export OMPI_MCA_ess_singleton_isolated=1
HERE=tests/badinput
SEEDS=tests/fuzz/corpus/results
GOOD=jobs/examples/tiny.ini
[ $# -gt 0 ] || set -- "$HERE"/*.ini "$HERE"/*.case
# shellcheck source=tests/check_lib.sh
. "$(dirname "$0")/../check_lib.sh"
check_name=badinput
check_width=34
failed_cases=""

snapshot() {
    find "$T" -name '*.h5' -type f -exec md5sum {} + 2>/dev/null | sort
}

# run_flexcl ARGS...: run flexcl once, recording what the checks need.
run_flexcl() {
    snapshot >"$T/.before"
    "$flexcl" "$@" >"$T/.stdout" 2>"$T/.stderr"
    echo $? >"$T/.status"
    snapshot >"$T/.after"
}

for case in "$@"; do
    name=$(basename "$case")
    T=$(mktemp -d)
    expect=$(sed -n '1s/^# expect: //p' "$case")
    if [ -z "$expect" ]; then
        why="no '# expect: REGEX' on the first line"
    else
        case $case in
            *.ini)
                args=$(sed -n 's/^# args: //p' "$case")
                # shellcheck disable=SC2086
                run_flexcl run "$case" --out "$T/out" $args ;;
            *.case)
                (T=$T GOOD=$GOOD SEEDS=$SEEDS HERE=$HERE . "$case") ;;
        esac
        why=""
        if [ ! -f "$T/.status" ]; then
            why="the case never ran flexcl"
        else
            status=$(cat "$T/.status")
            lines=$(wc -l <"$T/.stderr")
            [ "$status" -eq 2 ] || why="exit status $status, expected 2"
            [ -z "$why" ] && [ "$lines" -ne 1 ] && why="$lines lines on stderr, expected 1"
            [ -z "$why" ] && ! grep -qE -- "$expect" "$T/.stderr" && why="stderr does not match '$expect'"
            changed=$(comm -13 "$T/.before" "$T/.after")
            [ -z "$why" ] && [ -n "$changed" ] && why="left or changed a complete-looking file: $changed"
        fi
    fi
    if [ -z "$why" ]; then
        case_ok "$name" "$(cat "$T/.stderr")"
    else
        failed_cases="$failed_cases $name"
        case_bad "$name" "$why" "$(head -5 "$T/.stderr" 2>/dev/null)"
    fi
    rm -rf "$T"
done
finish "${failed_cases:+ (}${failed_cases# }${failed_cases:+)}"
