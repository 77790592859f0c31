#!/usr/bin/python3
"""Tests of analysis/aol_drift.py on synthetic aol_bias results whose drift is known.

Run:  /usr/bin/python3 analysis/test_aol_drift.py
Prints one line per case and "N passed, M failed"; exits 1 on any failure.

The synthetic file has three blocks per point: "W" whose mean drift is a·η²
(the theorem's leading order), "V" whose mean drift is a·η (the must-fail
twin: a first-order law), "c" whose mean drift is negative (no slope). Per
phase the block means carry AR(1) noise (ρ = 0.8, as consecutive phases of
one chain are correlated) scaled like the mean. Fixed seeds; verdicts at
Z = 4 SEs, a false-fail rate of 2(1 − Φ(4)) = 6.3e-5 per assertion under the
normal approximation of the WLS slope.
"""
import os
import subprocess
import sys
import tempfile

import h5py
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import aol_drift  # noqa: E402

SCRIPT = os.path.join(HERE, "aol_drift.py")
Z = 4.0
M = 2000
BLOCKS = (("W", 0, 4, 5), ("V", 20, 3, 2), ("c", 26, 4, 1))  # name, offset, rows, cols
P = 30


class Failure(Exception):
    pass


def expect(cond, what):
    if not cond:
        raise Failure(what)


def ar1(rng, n, rho):
    e = rng.standard_normal(n)
    x = np.empty(n)
    x[0] = e[0]
    for i in range(1, n):
        x[i] = rho * x[i - 1] + np.sqrt(1 - rho * rho) * e[i]
    return x


def write(path, etas, seed=1, with_blocks=True, raw=True):
    rng = np.random.default_rng(seed)
    with h5py.File(path, "w") as f:
        for i, eta in enumerate(etas):
            g = f.create_group(f"points/{i:06d}")
            for k, v in (("experiment", "aol_bias"), ("eta", eta), ("tau", 100.0), ("b", 0.5),
                         ("law", "fixed"), ("model", "eqprop")):
                g.attrs[k] = v
            th = g.create_dataset("theta0", data=np.linspace(-1, 1, P))
            if with_blocks:
                for name, off, r, c in BLOCKS:
                    th.attrs[f"{name}_offset"] = off
                    th.attrs[f"{name}_shape"] = f"{r},{c}"
            if not raw:
                continue
            z = (rng.random(M) < 0.5).astype(np.uint64)
            drift = 0.3 * eta * eta * rng.standard_normal((M, P))   # per-coordinate noise
            means = {"W": 2.0 * eta ** 2, "V": 0.05 * eta, "c": -1.0 * eta ** 2}
            for name, off, r, c in BLOCKS:
                n = r * c
                shift = means[name] * (1 + 0.5 * ar1(rng, M, 0.8))
                drift[:, off:off + n] += (shift - drift[:, off:off + n].mean(axis=1))[:, None]
            delta = rng.standard_normal((M, P)) / eta + drift / eta
            g.create_dataset("samples/drift", data=drift)
            g.create_dataset("samples/delta", data=delta)
            g.create_dataset("samples/z", data=z)
    return path


def run(*args):
    p = subprocess.run([sys.executable, SCRIPT, *args], capture_output=True, text=True)
    return p.returncode, p.stdout, p.stderr


def fits_by_block(path):
    points = aol_drift.load([path], 20)
    with open(os.devnull, "w") as null:
        fits = aol_drift.report(points, out=null)
    return {block: (s, se) for _, block, s, se, _ in fits}, points


def case_slopes(tmp):
    path = write(os.path.join(tmp, "d.h5"), [0.0025, 0.005, 0.01, 0.02])
    fits, points = fits_by_block(path)
    sW, eW = fits["W"]
    sV, eV = fits["V"]
    expect(abs(sW - 2) < Z * eW, f"W slope {sW:.3f} ± {eW:.3f}, expected 2")
    expect(abs(sV - 1) < Z * eV, f"V slope {sV:.3f} ± {eV:.3f}, expected 1")
    expect(abs(sV - 2) > Z * eV, f"twin: V slope {sV:.3f} ± {eV:.3f} not distinguished from 2")
    expect(fits["c"][0] is None, "block c (negative drift) got a slope")
    expect([r["block"] for r in points[0]["rows"]] == ["W", "V", "c"], "blocks in offset order")
    return f"W {sW:.3f} ± {eW:.3f}; twin V {sV:.3f} ± {eV:.3f} (|s-2|/SE {abs(sV - 2) / eV:.0f})"


def case_batch_se(tmp):
    """The batch-means SE of an AR(1) series (ρ = 0.8) is close to the true SE of its mean
    (√((1+ρ)/(1−ρ)) = 3 times the iid SE); the iid formula is 3 times too small."""
    rng = np.random.default_rng(7)
    n, reps, rho = 4000, 300, 0.8
    means, ses = [], []
    for _ in range(reps):
        x = ar1(rng, n, rho)
        m, se = aol_drift.batch_stats(x, 20)
        means.append(m)
        ses.append(se)
    true_se = np.std(means, ddof=1)
    ratio = np.mean(ses) / true_se
    expect(0.8 < ratio < 1.2, f"batch SE / true SE = {ratio:.2f}")
    iid = 1 / np.sqrt(n)
    expect(true_se / iid > 2.5, f"true SE / iid SE = {true_se / iid:.2f}")
    return f"batch SE / true SE {ratio:.2f} (iid SE is {true_se / iid:.1f}x too small)"


def case_old_file_one_block(tmp):
    path = write(os.path.join(tmp, "old.h5"), [0.01, 0.02], with_blocks=False)
    code, out, err = run(path)
    expect(code == 0, f"exit {code}: {err}")
    expect("| all |" in out, "no block 'all' for a file without block attributes")
    return "one block 'all', exit 0"


def case_bad_inputs(tmp):
    msgs = []
    norow = write(os.path.join(tmp, "noraw.h5"), [0.01], raw=False)
    for args, must in (([norow], "samples/drift"),
                       ([os.path.join(tmp, "missing.h5")], "no such file"),
                       ([SCRIPT], "cannot open as HDF5"),
                       ([norow, "--batches", "1"], "at least 2")):
        code, out, err = run(*args)
        lines = err.strip().splitlines()
        expect(code == 2 and len(lines) == 1 and must in lines[0] and out == "",
               f"{args}: exit {code}, stderr {err!r}")
        msgs.append(must)
    return "exit 2 with one line: " + "; ".join(msgs)


CASES = [case_slopes, case_batch_se, case_old_file_one_block, case_bad_inputs]


def main():
    passed = failed = 0
    with tempfile.TemporaryDirectory(prefix="flexcl_aol_drift_") as tmp:
        for case in CASES:
            name = case.__name__[len("case_"):]
            try:
                print(f"ok   {name}: {case(tmp)}")
                passed += 1
            except Failure as e:
                print(f"FAIL {name}: {e}")
                failed += 1
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
