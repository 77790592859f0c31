#!/bin/sh
# The fuzz suite: build the clang sanitizer tree (tests/sanitize/build.sh)
# and run each libFuzzer harness for a fixed time from its seed corpus,
# with a fixed seed. New inputs go to a scratch directory; a crash input is
# kept in TREE/../fuzz-artifacts/ and fails the test (copy it to
# tests/fuzz/regressions/<harness>/ once fixed).
# usage: run.sh SOURCE_DIR TREE SECONDS
set -eu
src=$1
tree=$2
secs=$3
sh "$src/tests/sanitize/build.sh" "$src" "$tree"
sanitize_dir=$src/tests/sanitize
. "$sanitize_dir/env.sh"
exec 9>"$tree.lock"
flock 9
keep=$(dirname "$tree")/fuzz-artifacts
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$keep"
fail=0
for h in job idx results; do
    exe=$tree/tests/fuzz/fuzz_$h
    if [ ! -x "$exe" ]; then
        echo "fuzz: $exe was not built (the sanitizer tree must be a clang build)"
        exit 1
    fi
    case $h in
        job) max_len=4096 ;;
        idx) max_len=16384 ;;
        results) max_len=65536 ;;
    esac
    dict=""
    [ -f "$src/tests/fuzz/$h.dict" ] && dict="-dict=$src/tests/fuzz/$h.dict"
    mkdir -p "$work/$h"
    if "$exe" -max_total_time="$secs" -seed=1 -timeout=10 -rss_limit_mb=2560 \
        -malloc_limit_mb=2048 -max_len=$max_len -print_final_stats=1 $dict \
        -artifact_prefix="$keep/$h-" "$work/$h" "$src/tests/fuzz/corpus/$h" \
        >"$work/$h.log" 2>&1; then
        runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/$h.log")
        echo "fuzz_$h: ok, $runs inputs in ${secs} s (corpus $(ls "$src/tests/fuzz/corpus/$h" | wc -l) seeds, $(ls "$work/$h" | wc -l) new)"
    else
        fail=1
        echo "fuzz_$h: FAILED"
        tail -80 "$work/$h.log"
        echo "crash input(s) kept in $keep: $(ls "$keep" | grep "^$h-" | tr '\n' ' ')"
    fi
done
exit $fail
