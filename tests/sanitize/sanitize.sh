#!/bin/sh
# The sanitize suite: build this source with clang, AddressSanitizer and
# UndefinedBehaviorSanitizer (tests/sanitize/build.sh) and run its unit and
# mpi suites there. Any ASan or UBSan report, or a leak outside the
# libraries named in lsan.supp, fails the test; a test that failed only
# because LeakSanitizer's tracer crashed at exit is rerun once (lsan_tracer.py).
# usage: sanitize.sh SOURCE_DIR TREE
set -eu
src=$1
tree=$2
sh "$src/tests/sanitize/build.sh" "$src" "$tree"
sanitize_dir=$src/tests/sanitize
. "$sanitize_dir/env.sh"
exec 9>"$tree.lock"
flock 9
cd "$src"
rc=0
meson test -C "$tree" --no-rebuild --suite unit --suite mpi --print-errorlogs \
    --num-processes 2 || rc=$?
[ "$rc" -eq 0 ] && exit 0
# A test whose only fault is LeakSanitizer's tracer crashing at exit (an
# intermittent fault of the tool, lsan_tracer.py) is rerun once, alone; any
# other failure, or a second crash, fails the suite.
log=$tree/meson-logs/testlog.json
cp "$log" "$tree/meson-logs/testlog.first.json"
retry=$(/usr/bin/python3 "$sanitize_dir/lsan_tracer.py" "$log") || exit "$rc"
echo "sanitize: LeakSanitizer's tracer crashed at exit in:" $retry \
    "(no sanitizer or CUnit finding); rerunning once" >&2
# shellcheck disable=SC2086
exec meson test -C "$tree" --no-rebuild --print-errorlogs --num-processes 1 \
    $retry
