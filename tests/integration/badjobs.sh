#!/bin/sh
# Bad input never crashes and never leaves a result: every case below must
# exit with status 2, print exactly one line on stderr that names the
# problem (FILE:LINE and section.key for job files), and leave no results
# file (complete or partial) behind.
# usage: badjobs.sh FLEXCL   (run from the repository root)
flexcl="$1"
# One MPI process per case: a self-contained singleton starts faster.
export OMPI_MCA_ess_singleton_isolated=1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# shellcheck source=tests/check_lib.sh
. "$(dirname "$0")/../check_lib.sh"

# try NAME EXPECTED-SUBSTRING ARGS...: run flexcl ARGS...; $why says what is
# wrong (empty when nothing is), stderr is in $tmp/stderr.
try() {
    name="$1"; expect="$2"; shift 2
    out="$tmp/out_$name"
    "$flexcl" "$@" --out "$out" >"$tmp/stdout" 2>"$tmp/stderr"
    status=$?
    lines=$(wc -l <"$tmp/stderr")
    why=""
    [ "$status" -eq 2 ] || why="exit status $status, expected 2"
    [ -z "$why" ] && [ "$lines" -ne 1 ] && why="$lines lines on stderr, expected 1"
    [ -z "$why" ] && ! grep -qF -- "$expect" "$tmp/stderr" && why="stderr lacks '$expect'"
    if [ -z "$why" ] && [ -d "$out" ] && [ -n "$(ls -A "$out")" ]; then
        why="left files behind: $(ls "$out")"
    fi
}

# verdict NAME: report the case just tried.
verdict() {
    if [ -z "$why" ]; then
        case_ok "$1" "$(cat "$tmp/stderr")"
    else
        case_bad "$1" "$why" "$(head -3 "$tmp/stderr")"
    fi
}

# check NAME EXPECTED-SUBSTRING ARGS...: try and report.
check() {
    try "$@"
    verdict "$1"
}

for f in tests/badjobs/*.ini; do
    name=$(basename "$f" .ini)
    expect=$(sed -n '1s/^# expect: //p' "$f")
    try "$name" "$expect" run "$f"
    # A job-file error names the file and a line.
    if [ -z "$why" ] && ! grep -q "^flexcl: error: $f:[0-9]" "$tmp/stderr" && ! grep -q "$f" "$tmp/stderr"; then
        why="message does not name $f"
    fi
    verdict "$name"
done

good=jobs/examples/tiny.ini
check unknown_flag "unknown option '--bogus'" run "$good" --bogus
check missing_job_file "/nonexistent/job.ini" run /nonexistent/job.ini
check no_job_file "needs a job file" run
check two_job_files "unexpected argument" run "$good" "$good"
check set_out_of_range "--set estimator.b=2" run "$good" --set estimator.b=2
check set_bad_form "--set" run "$good" --set estimator.b
check set_unknown_key "model.colour" run "$good" --set model.colour=red
check set_missing_value "--set needs a value" run "$good" --set
check unknown_command "unknown command" frobnicate

# Data: a truncated IDX file and one with a wrong magic number.
printf '\000\000\010\003\000\000\000\012\000\000\000\034\000\000\000\034abc' >"$tmp/trunc-idx3-ubyte"
check truncated_idx "$tmp/trunc-idx3-ubyte" run "$good" --set data.source=idx \
    --set data.images="$tmp/trunc-idx3-ubyte" --set data.labels=
printf '\000\000\010\005\000\000\000\001' >"$tmp/magic-idx3-ubyte"
check wrong_magic_idx "$tmp/magic-idx3-ubyte" run "$good" --set data.source=idx \
    --set data.images="$tmp/magic-idx3-ubyte" --set data.labels=

# Output: a path that cannot be a directory.
touch "$tmp/plainfile"
"$flexcl" run "$good" --out "$tmp/plainfile/sub" >"$tmp/stdout" 2>"$tmp/stderr"
if [ $? -eq 2 ] && [ "$(wc -l <"$tmp/stderr")" -eq 1 ] && grep -q "$tmp/plainfile/sub" "$tmp/stderr"; then
    case_ok unwritable_out_dir "$(cat "$tmp/stderr")"
else
    bad "unwritable_out_dir: $(cat "$tmp/stderr")"
fi
# Its good twin: missing parents of --out are made (mkdir -p).
if "$flexcl" run "$good" --quiet --out "$tmp/made/a/b" >"$tmp/stdout" 2>"$tmp/stderr" &&
    [ -f "$tmp/made/a/b/tiny.h5" ]; then
    case_ok nested_out_dir_made "$tmp/made/a/b/tiny.h5"
else
    bad "nested_out_dir_made: $(cat "$tmp/stderr")"
fi

# The other side: every job file the project ships (jobs/, jobs/examples/)
# is good input, so a key renamed or a rule tightened cannot leave one
# behind. `plan` parses and checks every grid point without running it.
for f in jobs/*.ini jobs/examples/*.ini; do
    if "$flexcl" plan "$f" >"$tmp/stdout" 2>"$tmp/stderr" &&
        n=$(sed -n 's/^grid points: //p' "$tmp/stdout") && [ "${n:-0}" -gt 0 ]; then
        case_ok "plans $(basename "$f")" "$n grid point(s)"
    else
        case_bad "plans $(basename "$f")" "flexcl plan failed" "$(head -3 "$tmp/stderr")"
    fi
done

finish
