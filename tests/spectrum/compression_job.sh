#!/bin/sh
# run.sample_compression end to end: jobs/examples/spectrum.ini split into
# 2 tasks, once with deflated raw samples (the default) and once with
# run.sample_compression = none; `flexcl merge`, `flexcl spectrum` on 2 ranks
# and analysis/theorems.py read both, every dataset of the two merged files
# (spectra included) is bitwise the same, the samples are stored as asked
# (merge kept them unfiltered), and the theorem verdicts agree.
# usage: compression_job.sh FLEXCL MPIEXEC PYTHON3   (from the repository root)
set -eu
flexcl="$1"
mpiexec="$2"
py="$3"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

for mode in deflate none; do
    for task in 0 1; do
        "$mpiexec" -n 2 "$flexcl" run jobs/examples/spectrum.ini --out "$tmp/$mode" \
            --task $task --tasks 2 --set run.sample_compression=$mode --quiet
    done
    "$flexcl" merge "$tmp/$mode" >/dev/null
    "$mpiexec" -n 2 "$flexcl" spectrum "$tmp/$mode/merged.h5" --all --vectors 3 --quiet
    "$py" analysis/theorems.py --report "$tmp/report_$mode" "$tmp/$mode/merged.h5" \
        >"$tmp/verdict_$mode" 2>&1 || true
done

"$py" - "$tmp" <<'PYEOF'
import sys
import h5py
tmp = sys.argv[1]
a = h5py.File(f"{tmp}/deflate/merged.h5", "r")
b = h5py.File(f"{tmp}/none/merged.h5", "r")
names, bad = [], []
a.visititems(lambda n, o: names.append(n) if isinstance(o, h5py.Dataset) else None)
for n in names:
    if n not in b or a[n][...].tobytes() != b[n][...].tobytes() or a[n].dtype != b[n].dtype:
        bad.append(n)
samples = [n for n in names if "/samples/" in n]
wrong = [n for n in samples if a[n].compression != "gzip" or b[n].compression is not None]
spectra = [n for n in names if "/spectrum/" in n]
print(f"{len(names)} datasets, {len(samples)} of raw samples, {len(spectra)} of spectra; "
      f"different: {bad}; stored wrongly: {wrong}")
if bad or wrong or not samples or not spectra:
    print("FAIL")
    sys.exit(1)
PYEOF

# The verdicts (and the tables) do not depend on the storage.
va=$(grep '^overall:' "$tmp/verdict_deflate" | sed 's/report: .*//')
vb=$(grep '^overall:' "$tmp/verdict_none" | sed 's/report: .*//')
if [ -z "$va" ] || [ "$va" != "$vb" ]; then
    echo "FAIL theorems.py: '$va' (deflate) vs '$vb' (none)"
    cat "$tmp/verdict_none"
    exit 1
fi
echo "ok: theorems.py reads both ($va)"
