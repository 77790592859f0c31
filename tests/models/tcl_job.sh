#!/bin/sh
# End to end (suite models): `flexcl run jobs/tcl_synapse.ini` writes the
# tcl_synapse datasets, and analysis/tcl.py reads them, draws the figures and
# finds every learning range within its bound tau_s/tau_f (exit status 0).
# Usage: tcl_job.sh FLEXCL PYTHON3
set -eu
FLEXCL=$1
PY=$2
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
"$FLEXCL" run jobs/tcl_synapse.ini --out "$T" --quiet
"$PY" - "$T/tcl_synapse.h5" <<'PYEOF'
import sys, h5py, numpy as np
with h5py.File(sys.argv[1], "r") as f:
    pts = [f["points"][k] for k in sorted(f["points"])]
    assert len(pts) == 18, len(pts)
    for g in pts:
        assert g.attrs["experiment"] in ("tcl_synapse", b"tcl_synapse")
        t = g["tcl"]
        n = t["amplitude"].shape[0]
        for d in ("dw", "dw_ideal", "linear"):
            assert t[d].shape == (n,), d
        for d in ("t", "r", "s", "u"):
            assert t["trace"][d].shape[0] == round((t.attrs["tau_fast"] + t.attrs["tau_slow"]) / t.attrs["dt"])
        r, ratio = t.attrs["range"], t.attrs["ratio"]
        assert not np.isfinite(r) or r <= ratio * (1 + 1e-6), (r, ratio)
print("tcl_synapse datasets ok")
PYEOF
"$PY" analysis/tcl.py "$T/tcl_synapse.h5" --out "$T/fig" >/dev/null
for f in tcl_dw.png tcl_range.png tcl_trace.png tcl.md; do
    [ -s "$T/fig/$f" ] || { echo "missing $f"; exit 1; }
done
echo "analysis/tcl.py ok"
