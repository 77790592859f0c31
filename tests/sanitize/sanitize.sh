#!/bin/sh
# The sanitize suite: build this source with clang, AddressSanitizer and
# UndefinedBehaviorSanitizer (tests/sanitize/build.sh) and run its unit and
# mpi suites there. Any ASan or UBSan report, or a leak outside the
# libraries named in lsan.supp, fails the test.
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
meson test -C "$tree" --no-rebuild --suite unit --suite mpi --print-errorlogs \
    --num-processes 2
