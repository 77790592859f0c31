#!/bin/sh
# valgrind (memcheck) on the example job jobs/examples/tiny.ini, run as one
# MPI process. Fails when valgrind finds a block "definitely lost" that
# flexcl's own code allocated (the first frame above the allocator is in
# the flexcl program or one of its sources), or an invalid read or write,
# or a use of uninitialised memory, whose innermost frame is flexcl's.
# Memory Open MPI and HDF5 keep until exit is suppressed (valgrind.supp).
# usage: valgrind.sh FLEXCL SUPPRESSIONS   (from the repository root)
set -eu
flexcl=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
supp=$2
if ! command -v valgrind >/dev/null; then
    echo "valgrind is not installed (scripts/deps.sh installs it)"
    exit 1
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
sources=$(cd src && ls *.c cli/*.c | sed 's|.*/||' | tr '\n' ' ')
status=0
valgrind --leak-check=full --show-leak-kinds=definite --num-callers=40 \
    --suppressions="$supp" --log-file="$work/vg.log" \
    "$flexcl" run jobs/examples/tiny.ini --out "$work/out" --quiet >"$work/out.txt" 2>&1 || status=$?
if [ "$status" -ne 0 ] || [ ! -f "$work/out/tiny.h5" ]; then
    echo "flexcl failed under valgrind (exit status $status):"
    cat "$work/out.txt"
    tail -40 "$work/vg.log"
    exit 1
fi
# One record: a header line, then "at"/"by" frames, ended by a bare "==PID==" line.
awk -v exe="$flexcl" -v sources="$sources" '
function ours(frame,   n, i, f) {
    if (index(frame, "(in " exe ")")) return 1
    n = split(sources, f, " ")
    for (i = 1; i <= n; i++) if (index(frame, "(" f[i] ":")) return 1
    return 0
}
function allocator(frame) {
    return frame ~ /: (malloc|calloc|realloc|strdup|strndup|memalign|posix_memalign|aligned_alloc|asprintf|vasprintf|__vasprintf_internal|__asprintf_chk|__vasprintf_chk) /
}
function finish() {
    if (kind == "") return
    if (kind == "leak" && blame) { leaks++; bytes += size; print record }
    if (kind == "error" && blame) { errors++; print record }
    kind = ""
}
{ line = $0; sub(/^==[0-9]+== ?/, "", line) }
line ~ /are definitely lost in loss record/ {
    finish(); kind = "leak"; record = line; size = line + 0; blame = 0; decided = 0; next
}
line ~ /^(Invalid (read|write|free)|Conditional jump or move depends on uninitialised|Use of uninitialised value|Syscall param .* uninitialised)/ {
    finish(); kind = "error"; record = line; blame = -1; next
}
kind != "" && line ~ /^ *(at|by) 0x/ {
    record = record "\n" line
    if (kind == "error" && blame == -1) blame = ours(line)
    if (kind == "leak" && !decided && !allocator(line)) { blame = ours(line); decided = 1 }
    next
}
kind != "" && line ~ /^ *$/ { finish() }
END {
    finish()
    printf "valgrind: definitely lost from flexcl: %d bytes in %d record(s); invalid accesses or uninitialised uses in flexcl: %d\n", bytes, leaks, errors
    exit (leaks + errors > 0)
}' "$work/vg.log" || status=1
grep -E "definitely lost:|indirectly lost:|ERROR SUMMARY" "$work/vg.log" | sed 's/^==[0-9]*== */valgrind (all code, after suppressions): /'
exit $status
