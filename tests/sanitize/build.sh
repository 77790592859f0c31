#!/bin/sh
# Configure (once) and build the sanitizer tree of this source: clang,
# AddressSanitizer + UndefinedBehaviorSanitizer, libFuzzer coverage on
# every object (so that the fuzz harnesses see inside the library), no
# benchmarks. Shared by the sanitize and fuzz suites, which take turns on
# a lock. usage: build.sh SOURCE_DIR BUILD_DIR
set -eu
src=$1
tree=$2
cc=$(command -v clang-14 || command -v clang || true)
if [ -z "$cc" ]; then
    echo "sanitize: clang is not installed; scripts/deps.sh installs clang-14," \
         "libclang-rt-14-dev and libomp-14-dev" >&2
    exit 1
fi
mkdir -p "$(dirname "$tree")"
exec 9>"$tree.lock"
flock 9
if [ ! -f "$tree/build.ninja" ]; then
    CC="$cc" nice -n 5 meson setup "$tree" "$src" --buildtype=debugoptimized \
        -Db_sanitize=address,undefined -Db_lundef=false -Dbench=false \
        -Dc_args=-fsanitize=fuzzer-no-link >"$tree.setup.log" 2>&1 || {
        cat "$tree.setup.log" >&2
        rm -rf "$tree"
        exit 1
    }
fi
# The dlclose shim that env.sh preloads (see nodlclose.c).
cc -shared -fPIC -O2 -o "$tree.nodlclose.so" "$src/tests/sanitize/nodlclose.c"
nice -n 5 ninja -C "$tree" >"$tree.build.log" 2>&1 || {
    tail -50 "$tree.build.log" >&2
    exit 1
}
