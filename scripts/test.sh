#!/bin/sh
# README command 2: install, build, and run the whole test suite.
set -eu
cd "$(dirname "$0")/.."
sh scripts/deps.sh
sh scripts/build.sh
. scripts/env.sh
meson test -C build --print-errorlogs --num-processes 2
