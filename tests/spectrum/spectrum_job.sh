#!/bin/sh
# `flexcl spectrum` end to end: run jobs/examples/spectrum.ini (isd_variance
# at b = 0.2, 0.5, 0.8, every sample kept raw), compute the spectra on 1 and
# 2 ranks, check the groups, attributes, eigenpairs and the trace against the
# stored moments (check_spectrum.py), the same spectrum at both rank counts,
# the refusals (exit 2, one line on stderr), and the spectra figure of the
# analysis report.
# usage: spectrum_job.sh FLEXCL MPIEXEC PYTHON3   (from the repository root)
set -eu
flexcl="$1"
mpiexec="$2"
py="$3"
here=$(dirname "$0")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# shellcheck source=tests/check_lib.sh
. "$(dirname "$0")/../check_lib.sh"
check_ok="ok: "
check_fail="FAIL: "

"$mpiexec" -n 2 "$flexcl" run jobs/examples/spectrum.ini --out "$tmp/run" --quiet
cp "$tmp/run/spectrum.h5" "$tmp/one.h5"
cp "$tmp/run/spectrum.h5" "$tmp/two.h5"
"$mpiexec" -n 1 "$flexcl" spectrum "$tmp/one.h5" --all --vectors 3 --quiet
"$mpiexec" -n 2 "$flexcl" spectrum "$tmp/two.h5" --all --vectors 3 --block 16
"$py" "$here/check_spectrum.py" "$tmp/one.h5" 3 1 || stop "check_spectrum.py on the 1-rank spectrum"
"$py" "$here/check_spectrum.py" "$tmp/two.h5" 3 2 || stop "check_spectrum.py on the 2-rank spectrum"
ok "spectra on 1 and 2 ranks: groups, attributes, eigenpairs and trace (check_spectrum.py)"

# The same spectrum on 1 and 2 ranks (and block sizes 64 and 16).
"$py" - "$tmp/one.h5" "$tmp/two.h5" <<'EOF' || stop "spectra differ between 1 and 2 ranks"
import sys
import h5py
import numpy as np
a, b = (h5py.File(p, "r") for p in sys.argv[1:3])
worst = 0.0
for n in a["points"]:
    la, lb = (f[f"points/{n}/spectrum/eigenvalues"][...] for f in (a, b))
    va, vb = (f[f"points/{n}/spectrum/eigenvectors"][...] for f in (a, b))
    worst = max(worst, np.max(np.abs(la - lb)) / la[0], np.max(np.abs(va - vb)))
print(f"1 vs 2 ranks: max difference {worst:.2e} (eigenvalues relative to lambda_1, vectors absolute)")
if not worst < 1e-10:
    sys.exit(1)
EOF
ok "the same spectrum on 1 and 2 ranks"

# Refusals: one line on stderr, exit status 2 (run as a singleton, so that
# stderr holds only flexcl's own line).
refuse() {
    want="$1"
    shift
    set +e
    "$flexcl" spectrum "$@" >"$tmp/out" 2>"$tmp/err"
    status=$?
    set -e
    lines=$(wc -l <"$tmp/err")
    if [ "$status" -ne 2 ] || [ "$lines" -ne 1 ] || ! grep -q -- "$want" "$tmp/err"; then
        stop "flexcl spectrum $*: exit $status (expected 2 and one line matching '$want'), stderr:
$(cat "$tmp/err")"
    fi
    ok "refused ($(cat "$tmp/err"))"
}
refuse "already has a spectrum" "$tmp/one.h5" --point 1
refuse "no grid point 9" "$tmp/one.h5" --point 9 --replace
refuse "needs 3 ranks" "$tmp/one.h5" --grid 3x1
refuse "exceeds the 152 parameters" "$tmp/one.h5" --point 0 --replace --vectors 153
refuse "cannot open results file" "$tmp/missing.h5"
refuse "unknown option" "$tmp/one.h5" --vector 3

# --replace without vectors: the old eigenvectors go, nothing partial stays.
"$flexcl" spectrum "$tmp/one.h5" --point 1 --replace --quiet
"$py" - "$tmp/one.h5" <<'EOF' || stop "--replace without vectors"
import sys
import h5py
with h5py.File(sys.argv[1], "r") as f:
    g = f["points/000001/spectrum"]
    assert "eigenvectors" not in g and g.attrs["vectors"] == 0, "eigenvectors kept"
    assert "points/000001/spectrum.partial" not in f, "partial group left"
    assert "eigenvectors" in f["points/000000/spectrum"], "another point changed"
EOF
ok "--replace rewrote point 1 only"

# The analysis: spectra.py on its own, and the section of the theorem report.
"$py" analysis/spectra.py "$tmp/two.h5" --out "$tmp/fig" >/dev/null
test -s "$tmp/fig/spectra_1.png" || stop "spectra.py wrote no spectra_1.png"
test -s "$tmp/fig/spectra.md" || stop "spectra.py wrote no spectra.md"
set +e
"$py" analysis/theorems.py "$tmp/two.h5" --report "$tmp/report" >"$tmp/theorems.out"
status=$?
set -e
if [ "$status" -eq 2 ]; then
    stop "theorems.py could not read the file:
$(cat "$tmp/theorems.out")"
fi
test -s "$tmp/report/spectra_1.png" || stop "the theorem report has no spectra_1.png"
grep -q "Gradient-noise spectra against b" "$tmp/report/report.md" ||
    stop "report.md has no section 'Gradient-noise spectra against b'"
grep -q "spectra_1.png" "$tmp/report/report.md" || stop "report.md does not show spectra_1.png"
ok "spectra figure in the theorem report (theorems.py exit $status)"
finish
