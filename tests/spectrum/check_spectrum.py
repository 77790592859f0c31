#!/usr/bin/python3
"""Check the spectrum groups that `flexcl spectrum` wrote into a results file (docs/spectrum.md).

Usage:  check_spectrum.py RESULTS.h5 VECTORS [RANKS]

For every isd_variance grid point: points/%06d/spectrum exists (and no spectrum.partial), carries every
provenance attribute, holds eigenvalues [P] in descending order and, when VECTORS > 0, eigenvectors
[VECTORS, P]; the eigenvalues match numpy's eigvalsh of the sample covariance of samples/ghat to 1e-10
relative to λ₁; their sum (and the trace attribute) equals Σ m2/(count − 1) of moments/ghat to 1e-10
relative when every sample was kept raw; the participation ratio attribute is (Σλ)²/Σλ²; every stored
eigenvector is a unit eigenvector (residual and orthonormality to 1e-10) with its largest-magnitude
component positive. Prints one line per point; exits 1 on the first failure with one line saying why.
"""
import sys

import h5py
import numpy as np

TOL = 1e-10
ATTRS = ("samples", "parameters", "source", "covariance", "grid", "grid_rows", "grid_cols", "block",
         "ranks", "vectors", "solver", "trace", "participation_ratio", "flexcl_version",
         "git_describe", "time", "seconds", "command_line")


def scalar(v):
    v = np.asarray(v)
    v = v.item() if v.size == 1 else v.tolist()
    return v.decode() if isinstance(v, bytes) else v


def fail(msg):
    print(f"check_spectrum: FAIL: {msg}")
    sys.exit(1)


def check_point(f, name, vectors, ranks):
    g = f.get(f"{name}/spectrum")
    if g is None:
        fail(f"{name}: no spectrum group")
    if f"{name}/spectrum.partial" in f:
        fail(f"{name}: leftover spectrum.partial")
    a = {k: scalar(v) for k, v in g.attrs.items()}
    missing = [k for k in ATTRS if k not in a]
    if missing:
        fail(f"{name}/spectrum: missing attributes {missing}")
    X = f[f"{name}/samples/ghat"][...].astype(float)
    M, P = X.shape
    if (a["samples"], a["parameters"], a["vectors"]) != (M, P, vectors):
        fail(f"{name}: samples/parameters/vectors = {a['samples']}/{a['parameters']}/{a['vectors']},"
             f" expected {M}/{P}/{vectors}")
    if ranks and a["ranks"] != ranks:
        fail(f"{name}: ranks = {a['ranks']}, expected {ranks}")
    if a["grid_rows"] * a["grid_cols"] != a["ranks"] or a["grid"] != f"{a['grid_rows']}x{a['grid_cols']}":
        fail(f"{name}: grid {a['grid']} ({a['grid_rows']} x {a['grid_cols']}) on {a['ranks']} ranks")
    if "flexcl spectrum" not in a["command_line"]:
        fail(f"{name}: command_line {a['command_line']!r}")
    lam = g["eigenvalues"][...]
    if lam.shape != (P,) or np.any(np.diff(lam) > 0):
        fail(f"{name}: eigenvalues of shape {lam.shape}, not descending")
    Y = X - X.mean(axis=0)
    C = Y.T @ Y / (M - 1)
    ref = np.linalg.eigvalsh(C)[::-1]
    d_lapack = np.max(np.abs(lam - ref)) / ref[0]
    if d_lapack > TOL:
        fail(f"{name}: eigenvalues differ from numpy eigvalsh by {d_lapack:.2e} of lambda_1")
    count = int(scalar(f[f"{name}/moments/ghat"].attrs["count"]))
    var = float(np.sum(f[f"{name}/moments/ghat/m2"][...]) / (count - 1))
    d_trace = abs(lam.sum() - var) / var
    if count != M:
        fail(f"{name}: moments count {count} != raw samples {M}; the job must keep every sample raw")
    if d_trace > TOL or abs(a["trace"] - lam.sum()) > TOL * var:
        fail(f"{name}: sum of eigenvalues {lam.sum():.15g}, trace attribute {a['trace']:.15g}, "
             f"sum of moment variances {var:.15g} (rel. {d_trace:.2e})")
    pr = lam.sum() ** 2 / np.sum(lam * lam)
    if abs(pr - a["participation_ratio"]) > TOL * pr:
        fail(f"{name}: participation_ratio {a['participation_ratio']} != {pr}")
    d_vec = 0.0
    if vectors > 0:
        V = g["eigenvectors"][...]
        if V.shape != (vectors, P):
            fail(f"{name}: eigenvectors of shape {V.shape}, expected ({vectors}, {P})")
        res = np.max(np.abs(V @ C - lam[:vectors, None] * V)) / lam[0]
        orth = np.max(np.abs(V @ V.T - np.eye(vectors)))
        signs = all(v[np.argmax(np.abs(v))] > 0 for v in V)
        d_vec = max(res, orth)
        if d_vec > TOL or not signs:
            fail(f"{name}: eigenvectors: residual {res:.2e}, orthonormality {orth:.2e}, "
                 f"sign convention {'ok' if signs else 'broken'}")
    elif "eigenvectors" in g:
        fail(f"{name}: eigenvectors stored although none were asked for")
    print(f"{name}: b={scalar(f[name].attrs['b']):g} P={P} M={M} grid {a['grid']}: "
          f"vs numpy {d_lapack:.1e}, trace vs moments {d_trace:.1e}, vectors {d_vec:.1e}")
    return lam


def main():
    if len(sys.argv) not in (3, 4):
        print("usage: check_spectrum.py RESULTS.h5 VECTORS [RANKS]", file=sys.stderr)
        return 2
    path, vectors = sys.argv[1], int(sys.argv[2])
    ranks = int(sys.argv[3]) if len(sys.argv) == 4 else 0
    with h5py.File(path, "r") as f:
        names = [f"points/{n}" for n in sorted(f["points"])
                 if scalar(f[f"points/{n}"].attrs["experiment"]) == "isd_variance"]
        if not names:
            fail(f"{path}: no isd_variance points")
        for name in names:
            check_point(f, name, vectors, ranks)
    print(f"check_spectrum: {len(names)} spectra ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
