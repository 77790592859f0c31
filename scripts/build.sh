#!/bin/sh
# Configure (once) and build flexcl in ./build.
set -eu
cd "$(dirname "$0")/.."
[ -f build/build.ninja ] || meson setup build --buildtype=release -Db_ndebug=true
ninja -C build
