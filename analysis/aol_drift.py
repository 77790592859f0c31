#!/usr/bin/python3
"""The drift of always-on learning per parameter block, from aol_bias results.

SPEC §2: over one phase, aol's update differs from the ideal one by a drift of
order η², measured by flexcl's aol_bias experiment as Δθ_A − Δθ_B on common
random numbers (θ moving inside the phase against θ frozen at θ₀;
docs/schema.md). Its full-vector norm (check 3a of theorems.py) can sit below
the Monte-Carlo floor for a large model even when the drift is plain along a
few directions. This script reads it along each parameter block's mean: for a
block of n parameters, d_i = (1/n) Σ_q drift_iq is the drift of phase i
averaged over the block.

Per aol_bias point with raw samples (samples/drift, samples/delta,
samples/z) and per block (theta0's <block>_offset / <block>_shape
attributes, written since session 12; one block "all" in older files):
  - mean of d over the M raw phases, its SE from batch means (B batches of
    consecutive phases: phases of one persistent chain are correlated, and
    consecutive raw rows belong to one chain except at chain boundaries), t;
  - the means over positive and over negative phases;
  - the first-order part: the mean of (delta·η − drift) over the block, i.e.
    the frozen-θ movement Δθ_B.
Then, for points that differ only in η (same file, τ, b, law, θ₀), per block
the weighted least-squares slope of log(mean d) on log η (weights (mean/SE)²,
the delta method), with its SE; the theorem's leading order is 2. A block
whose mean drift is not positive at every η gets no slope.

Usage:  /usr/bin/python3 analysis/aol_drift.py RESULTS.h5 [...] [--batches B]
Prints markdown tables; exits 2 with one line on an unreadable file or a
point without raw samples (set run.raw_samples).
"""
import argparse
import hashlib
import os
import sys

import h5py
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import _scalar, _first_line, open_results  # noqa: E402  (analysis/common.py)


class InputError(Exception):
    """A file this script cannot read (exit status 2)."""


def blocks_of(ds, P):
    """[(name, offset, size)] from theta0's attributes, or one block "all"."""
    out = []
    for key in ds.attrs:
        if key.endswith("_offset"):
            name = key[:-len("_offset")]
            shape = str(_scalar(ds.attrs.get(f"{name}_shape", "")))
            try:
                rows, cols = (int(v) for v in shape.split(","))
            except ValueError:
                raise InputError(f"attribute {name}_shape of {ds.name} is {shape!r}, "
                                 f"expected 'rows,cols'")
            off = int(_scalar(ds.attrs[key]))
            if off < 0 or off + rows * cols > P:
                raise InputError(f"block {name} of {ds.name} ({off}, {rows}x{cols}) is outside "
                                 f"its {P} parameters")
            out.append((name, off, rows * cols))
    return sorted(out, key=lambda b: b[1]) or [("all", 0, P)]


def batch_stats(x, batches):
    """Mean of x and its SE from `batches` batch means of consecutive rows."""
    n = len(x) // batches * batches
    if n < 2 * batches:
        raise InputError(f"{len(x)} raw phases are too few for {batches} batches")
    means = x[:n].reshape(batches, -1).mean(axis=1)
    return float(x.mean()), float(means.std(ddof=1) / np.sqrt(batches))


def read_point(path, g, batches):
    """Per-block statistics of one aol_bias point."""
    for rel in ("theta0", "samples/drift", "samples/delta", "samples/z"):
        if rel not in g:
            raise InputError(f"{path}: {g.name} has no {rel} (aol_bias with run.raw_samples > 0 "
                             f"writes it)")
    theta = g["theta0"]
    P = theta.shape[0]
    drift, delta, z = g["samples/drift"], g["samples/delta"], g["samples/z"][...].ravel()
    M = len(z)
    if drift.shape != (M, P) or delta.shape != (M, P):
        raise InputError(f"{path}: {g.name}: samples/drift {drift.shape} and samples/delta "
                         f"{delta.shape} do not match {M} phases of {P} parameters")
    eta = float(_scalar(g.attrs["eta"]))
    rows = []
    for name, off, size in blocks_of(theta, P):
        # One block's columns at a time: M x size doubles, not M x P.
        d = drift[:, off:off + size].mean(axis=1)
        first = delta[:, off:off + size].mean(axis=1) * eta - d
        m, se = batch_stats(d, batches)
        pos = float(d[z == 1].mean()) if (z == 1).any() else float("nan")
        neg = float(d[z == 0].mean()) if (z == 0).any() else float("nan")
        rows.append(dict(block=name, n=size, mean=m, se=se, pos=pos, neg=neg,
                         first=float(first.mean())))
    key = (path, float(_scalar(g.attrs["tau"])), float(_scalar(g.attrs["b"])),
           str(_scalar(g.attrs["law"])), str(_scalar(g.attrs.get("model", ""))),
           hashlib.sha1(theta[...].astype("<f8").tobytes()).hexdigest()[:8])
    return dict(name=g.name, eta=eta, key=key, M=M, rows=rows)


def slope(etas, means, ses):
    """WLS slope of log mean on log η (weights (mean/SE)²) and its SE."""
    x = np.log(etas)
    y = np.log(means)
    w = (np.asarray(means) / np.asarray(ses)) ** 2
    X = np.c_[np.ones_like(x), x]
    A = X.T @ (w[:, None] * X)
    beta = np.linalg.solve(A, X.T @ (w * y))
    return float(beta[1]), float(np.sqrt(np.linalg.inv(A)[1, 1]))


def load(paths, batches):
    points = []
    for path in paths:
        with open_results(path, InputError) as f:
            for name in sorted(f["points"]):
                g = f["points"][name]
                if str(_scalar(g.attrs.get("experiment", ""))) != "aol_bias":
                    continue
                try:
                    points.append(read_point(path, g, batches))
                except (KeyError, OSError, ValueError, TypeError) as e:
                    raise InputError(f"{path}: {g.name}: unreadable ({_first_line(e)})")
    return points


def report(points, out=sys.stdout):
    print("| point | η | block | drift per phase | SE (batch means) | t | positive phases | "
          "negative phases | first-order part |", file=out)
    print("|---|---|---|---|---|---|---|---|---|", file=out)
    for p in points:
        for r in p["rows"]:
            t = r["mean"] / r["se"] if r["se"] > 0 else float("nan")
            print(f"| {p['name']} | {p['eta']:g} | {r['block']} | {r['mean']:+.3e} | "
                  f"{r['se']:.2e} | {t:+.1f} | {r['pos']:+.3e} | {r['neg']:+.3e} | "
                  f"{r['first']:+.3e} |", file=out)
    groups = {}
    for p in points:
        groups.setdefault(p["key"], []).append(p)
    fits = []
    for key, grp in groups.items():
        etas = sorted({p["eta"] for p in grp})
        if len(etas) < 2:
            continue
        grp = sorted(grp, key=lambda p: p["eta"])
        for i, r0 in enumerate(grp[0]["rows"]):
            means = [p["rows"][i]["mean"] for p in grp]
            ses = [p["rows"][i]["se"] for p in grp]
            if min(means) <= 0 or min(ses) <= 0:
                fits.append((key, r0["block"], None, None, len(grp)))
                continue
            s, se = slope([p["eta"] for p in grp], means, ses)
            fits.append((key, r0["block"], s, se, len(grp)))
    if fits:
        print("\n| file | τ | b | law | θ₀ | block | points | log-log slope in η | SE |", file=out)
        print("|---|---|---|---|---|---|---|---|---|", file=out)
        for key, block, s, se, n in fits:
            path, tau, b, law, _, digest = key
            cell = ("(a mean is not positive)", "-") if s is None else (f"{s:.2f}", f"{se:.2f}")
            print(f"| {os.path.basename(path)} | {tau:g} | {b:g} | {law} | {digest} | {block} | "
                  f"{n} | {cell[0]} | {cell[1]} |", file=out)
    return fits


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("results", nargs="+", help="flexcl results files (HDF5)")
    ap.add_argument("--batches", type=int, default=20,
                    help="batch means for the SEs (default 20)")
    a = ap.parse_args(argv)
    if a.batches < 2:
        print("aol_drift.py: --batches must be at least 2", file=sys.stderr)
        return 2
    try:
        points = load(a.results, a.batches)
    except InputError as e:
        print(f"aol_drift.py: {e}", file=sys.stderr)
        return 2
    if not points:
        print("aol_drift.py: no aol_bias points in " + ", ".join(a.results), file=sys.stderr)
        return 2
    report(points)
    return 0


if __name__ == "__main__":
    sys.exit(main())
