#!/usr/bin/python3
"""Self-contained tests of analysis/theorems.py on synthetic results files (no pytest needed).

Run:  /usr/bin/python3 analysis/test_theorems.py
Prints one line per case and finishes with "N passed, M failed"; exits 1 on any failure.
"""
import os
import subprocess
import sys
import tempfile
import traceback

import h5py
import numpy as np
from scipy import stats

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import make_synthetic  # noqa: E402
import theorems  # noqa: E402

THEOREMS = os.path.join(HERE, "theorems.py")
ALL_CHECKS = {"1 isd unbiased", "2a variance = theory", "2b convexity",
              "2c argmin in CI(b*)", "3a drift ~ eta^2", "3b transient ~ 1/tau",
              "3c equilibrium unbiased", "3d bias -> MC floor", "4 isd >= two_term"}


class Failure(Exception):
    pass


def expect(cond, what):
    if not cond:
        raise Failure(what)


def run_theorems(*files, report):
    proc = subprocess.run([sys.executable, THEOREMS, *files, "--report", report],
                          capture_output=True, text=True)
    return proc.returncode, proc.stdout, proc.stderr


def verdict_rows(stdout):
    """(check, scope, statistic, threshold, verdict) per row of the printed table."""
    rows = []
    for line in stdout.splitlines():
        cells = [c.strip() for c in line.split(" | ")]
        if len(cells) == 5 and cells[0] != "check" and cells[4] in ("PASS", "FAIL", "SKIP"):
            rows.append(tuple(cells))
    return rows


def summary(rows):
    return "; ".join(f"{r[0]} [{r[1]}]: {r[4]}" for r in rows if r[4] != "PASS")


# --------------------------------------------------------------------------------------------------

def case_correct_file_passes(tmp):
    path = make_synthetic.write_synthetic(os.path.join(tmp, "ok.h5"), seed=1)
    report = os.path.join(tmp, "report_ok")
    code, out, err = run_theorems(path, report=report)
    rows = verdict_rows(out)
    expect(code == 0, f"exit {code}, expected 0 ({summary(rows)}; stderr: {err.strip()})")
    expect({r[0] for r in rows} == ALL_CHECKS,
           f"checks present {sorted({r[0] for r in rows})}")
    expect(all(r[4] == "PASS" for r in rows), f"not all PASS: {summary(rows)}")
    expect("family-wise alpha = 0.01" in out, "alpha split not printed")
    files = os.listdir(report)
    for name in ("report.md", "check2_variance_1.png", "check3_drift.png", "check3_transient.png",
                 "check3_bias_1.png", "curves_1.png"):
        expect(name in files, f"{name} not written")
    text = open(os.path.join(report, "report.md"), encoding="utf-8").read()
    expect("false-fail" in text and "Overall: PASS" in text, "report lacks false-fail rates")
    return f"{len(rows)} rows PASS, exit 0"


def case_biased_fails_check1(tmp):
    """The negative control (weights = swapped at b = 0.3, N = 20000) fails check 1; the importance
    points of the same file still pass."""
    path = make_synthetic.write_synthetic(os.path.join(tmp, "biased.h5"), seed=1, biased=True)
    code, out, err = run_theorems(path, report=os.path.join(tmp, "report_biased"))
    rows = [r for r in verdict_rows(out) if r[0] == "1 isd unbiased"]
    ctrl = [r for r in rows if "weights=swapped" in r[1]]
    good = [r for r in rows if "weights=importance" in r[1]]
    expect(code == 1, f"exit {code}, expected 1")
    expect(len(ctrl) == 1 and ctrl[0][4] == "FAIL" and "negative control" in ctrl[0][1],
           f"control row: {ctrl}")
    expect(len(good) == 1 and good[0][4] == "PASS", f"importance row: {good}")
    return "swapped-weights control FAILs check 1, importance points PASS, exit 1"


def case_mislabelled_weights_fail_check1(tmp):
    """A weighting bug (swapped weights written as importance) is caught by check 1."""
    path = make_synthetic.write_synthetic(os.path.join(tmp, "mislabel.h5"), seed=1, mislabel=True)
    code, out, err = run_theorems(path, report=os.path.join(tmp, "report_mislabel"))
    rows = [r for r in verdict_rows(out) if r[0] == "1 isd unbiased"]
    expect(code == 1, f"exit {code}, expected 1")
    expect(len(rows) == 1 and rows[0][4] == "FAIL", f"check 1 rows: {rows}")
    return "check 1 FAIL, exit 1"


def case_drift_slope_one_fails_3a(tmp):
    path = make_synthetic.write_synthetic(os.path.join(tmp, "slope1.h5"), seed=1, drift_slope=1.0)
    code, out, err = run_theorems(path, report=os.path.join(tmp, "report_slope1"))
    rows = [r for r in verdict_rows(out) if r[0] == "3a drift ~ eta^2"]
    expect(code == 1, f"exit {code}, expected 1")
    expect(rows and all(r[4] == "FAIL" for r in rows), f"3a rows: {rows}")
    return f"{len(rows)} 3a rows FAIL, exit 1"


def _drop_run_c(path, which=("equilibrium", "transient")):
    """Make every aol_bias point of a synthetic file drift-only (the layout flexcl writes for a model
    without an exact equilibrium sampler), or drop only some of run C's groups."""
    with h5py.File(path, "a") as f:
        for name in f["points"]:
            g = f["points"][name]
            if g.attrs["experiment"] != "aol_bias":
                continue
            for w in which:
                del g[f"moments/{w}"]
                if f"samples/{w}" in g:
                    del g[f"samples/{w}"]


def case_drift_only_points(tmp):
    """Drift-only aol_bias points (no equilibrium, no transient) keep check 3a, with the same verdict
    as the full file, and skip 3b-3d saying why; the twin with a slope-1 drift still fails 3a."""
    path = make_synthetic.write_synthetic(os.path.join(tmp, "drift_only.h5"), seed=1)
    _drop_run_c(path)
    code, out, err = run_theorems(path, report=os.path.join(tmp, "report_drift_only"))
    rows = verdict_rows(out)
    expect(code == 0, f"exit {code}, expected 0 ({summary(rows)}; stderr: {err.strip()})")
    r3a = [r for r in rows if r[0] == "3a drift ~ eta^2"]
    expect(r3a and all(r[4] == "PASS" for r in r3a), f"3a rows: {r3a}")
    for check in ("3b transient ~ 1/tau", "3c equilibrium unbiased", "3d bias -> MC floor"):
        r = [x for x in rows if x[0] == check]
        expect(len(r) == 1 and r[0][4] == "SKIP" and "drift-only" in r[0][1], f"{check}: {r}")
    twin = make_synthetic.write_synthetic(os.path.join(tmp, "drift_only1.h5"), seed=1,
                                          drift_slope=1.0)
    _drop_run_c(twin)
    code1, out1, _ = run_theorems(twin, report=os.path.join(tmp, "report_drift_only1"))
    r1 = [r for r in verdict_rows(out1) if r[0] == "3a drift ~ eta^2"]
    expect(code1 == 1 and r1 and all(r[4] == "FAIL" for r in r1), f"twin: exit {code1}, {r1}")
    return f"3a {len(r3a)} rows PASS, 3b-3d SKIP (drift-only); twin slope 1: 3a FAIL, exit 1"


def case_half_run_c_refused(tmp):
    """A point with the transient but not the equilibrium run is a damaged file, not drift-only."""
    path = make_synthetic.write_synthetic(os.path.join(tmp, "half_c.h5"), seed=1)
    _drop_run_c(path, which=("equilibrium",))
    code, out, err = run_theorems(path, report=os.path.join(tmp, "report_half_c"))
    return _one_line_exit2(code, out, err, [path, "moments/equilibrium"])


def _one_line_exit2(code, out, err, must_contain):
    lines = err.strip().splitlines()
    expect(code == 2, f"exit {code}, expected 2")
    expect(len(lines) == 1, f"stderr has {len(lines)} lines: {err!r}")
    for s in must_contain:
        expect(s in lines[0], f"stderr {lines[0]!r} lacks {s!r}")
    expect(out == "", f"stdout not empty: {out!r}")
    return lines[0]


def case_wrong_schema_version(tmp):
    path = make_synthetic.write_synthetic(os.path.join(tmp, "v3.h5"), seed=1, schema_version=3)
    code, out, err = run_theorems(path, report=os.path.join(tmp, "report_v2"))
    return _one_line_exit2(code, out, err, [path, "schema_version"])


def case_missing_file(tmp):
    path = os.path.join(tmp, "does_not_exist.h5")
    code, out, err = run_theorems(path, report=os.path.join(tmp, "report_missing"))
    return _one_line_exit2(code, out, err, [path])


def case_missing_dataset(tmp):
    path = make_synthetic.write_synthetic(os.path.join(tmp, "nods.h5"), seed=1)
    with h5py.File(path, "a") as f:
        del f["/points/000003/moments/ghat/m2"]
    code, out, err = run_theorems(path, report=os.path.join(tmp, "report_nods"))
    return _one_line_exit2(code, out, err, [path, "/points/000003/moments/ghat/m2"])


def case_not_hdf5(tmp):
    path = os.path.join(tmp, "junk.h5")
    with open(path, "w") as fh:
        fh.write("not an HDF5 file\n")
    code, out, err = run_theorems(path, report=os.path.join(tmp, "report_junk"))
    return _one_line_exit2(code, out, err, [path])


def _subset(src, dst, keep, drop_samples=False):
    """Copy src keeping the points whose experiment is in keep, or for which keep(index) is true
    when keep is callable (rewrites /index); drop_samples removes every samples group (M = 0)."""
    with h5py.File(src, "r") as f, h5py.File(dst, "w") as g:
        for k, v in f.attrs.items():
            g.attrs[k] = v
        idx = f["/index/point"][...]
        exps = f["/index"].attrs["experiments"].split(",")
        sel = [j for j, e in enumerate(exps) if (keep(int(idx[j])) if callable(keep) else e in keep)]
        for name in ("point", "eta", "tau", "b", "replicate"):
            g.create_dataset(f"/index/{name}", data=f[f"/index/{name}"][...][sel])
        g["/index"].attrs["experiments"] = ",".join(exps[j] for j in sel)
        g["/index"].attrs["axes"] = f["/index"].attrs["axes"]
        g.create_group("/points")
        for j in sel:
            name = f"/points/{int(idx[j]):06d}"
            f.copy(f[name], g["/points"], name=name.split("/")[-1])
            if drop_samples and f"{name}/samples" in g:
                del g[f"{name}/samples"]
    return dst


def case_train_only_skips(tmp):
    src = make_synthetic.write_synthetic(os.path.join(tmp, "full.h5"), seed=2)
    path = _subset(src, os.path.join(tmp, "train_only.h5"), {"train"})
    report = os.path.join(tmp, "report_train")
    code, out, err = run_theorems(path, report=report)
    rows = verdict_rows(out)
    expect(code == 0, f"exit {code}, expected 0 ({err.strip()})")
    expect(rows and all(r[4] == "SKIP" for r in rows), f"rows: {rows}")
    expect(os.path.exists(os.path.join(report, "curves_1.png")), "no learning-curve figure")
    return f"{len(rows)} rows SKIP, exit 0"


def case_two_files(tmp):
    a = make_synthetic.write_synthetic(os.path.join(tmp, "a.h5"), seed=3)
    b = _subset(make_synthetic.write_synthetic(os.path.join(tmp, "b_full.h5"), seed=4),
                os.path.join(tmp, "b.h5"), {"isd_variance"})
    code, out, err = run_theorems(a, b, report=os.path.join(tmp, "report_two"))
    rows = verdict_rows(out)
    expect(code == 0, f"exit {code} ({summary(rows)}; {err.strip()})")
    c2 = [r for r in rows if r[0] == "2a variance = theory"]
    expect(len(c2) == 2 and all("a.h5" in r[1] or "b.h5" in r[1] for r in c2),
           f"expected one 2a row per file, got {c2}")
    return f"{len(rows)} rows, groups kept per file"


def case_task_files_pooled(tmp):
    """A job split over task files (flexcl run --task I --tasks N) gives the same groups as one file."""
    src = make_synthetic.write_synthetic(os.path.join(tmp, "job.h5"), seed=5)
    t0 = _subset(src, os.path.join(tmp, "task_0.h5"), lambda i: i < 5)
    t1 = _subset(src, os.path.join(tmp, "task_1.h5"), lambda i: i >= 5)
    code, out, err = run_theorems(t0, t1, report=os.path.join(tmp, "report_tasks"))
    rows = verdict_rows(out)
    _, out1, _ = run_theorems(src, report=os.path.join(tmp, "report_job"))
    expect(code == 0, f"exit {code} ({summary(rows)}; {err.strip()})")
    c2 = [r for r in rows if r[0] == "2a variance = theory"]
    expect(len(c2) == 1 and "(9 pts)" in c2[0][1] and "task_0.h5+task_1.h5" in c2[0][1],
           f"2a rows: {c2}")
    same = [r[2:] for r in rows] == [r[2:] for r in verdict_rows(out1)]
    expect(same, "statistics differ from the single-file analysis")
    return "9-point b grid pooled across 2 task files, statistics identical to one file"


def case_no_raw_samples(tmp):
    """run.raw_samples = 0: the writer omits samples/; conservative fallbacks, SE-based checks SKIP."""
    src = make_synthetic.write_synthetic(os.path.join(tmp, "raw0_full.h5"), seed=6)
    path = _subset(src, os.path.join(tmp, "raw0.h5"), lambda i: True, drop_samples=True)
    code, out, err = run_theorems(path, report=os.path.join(tmp, "report_raw0"))
    rows = {r[0]: r for r in verdict_rows(out)}
    expect(code == 0, f"exit {code} ({err.strip()}; {out[-400:]})")
    expect(rows["1 isd unbiased"][4] == "PASS", "check 1 without raw samples")
    expect(rows["2a variance = theory"][4] == "SKIP" and rows["4 isd >= two_term"][4] == "SKIP",
           "checks 2/4 should SKIP without raw samples")
    expect(rows["3a drift ~ eta^2"][4] == "PASS", "3a with the diagonal fallback")
    return "check 1 with nu = 1, 2/4 SKIP, 3 with diagonal covariance"


def case_saddlepoint_accuracy(tmp):
    worst = 0.0
    for k in (1, 3, 10, 50):
        for q in (0.5, 1e-2, 1e-4, 1e-7):
            x = stats.chi2.isf(q, k)
            p = theorems.saddlepoint_sf(x, np.ones(k))
            worst = max(worst, abs(p / q - 1))
    expect(worst < 0.12, f"worst relative error {worst:.3f} against chi2_k")
    return f"worst relative error vs chi2_k tail: {worst:.3f}"


def case_check1_null_calibration(tmp):
    """p-values of check 1's chi-square test under H0 with a spiked spectrum (where Satterthwaite
    alone is anti-conservative): rejection rate at 0.05 and 0.01 within binomial error."""
    rng = np.random.default_rng(2024)
    N, M, P, reps = 4000, 500, 16, 400
    scale = np.sqrt(np.r_[40.0, np.ones(P - 1)])
    ps = []
    for _ in range(reps):
        X = rng.standard_normal((N, P)) * scale
        mean = X.mean(axis=0)
        mom = theorems.Moments(N, mean, ((X - mean) ** 2).sum(axis=0))
        raw = theorems.raw_summary([(X[:M], 1.0)])
        ps.append(theorems.unbiasedness_test(mom, np.zeros(P), raw, 1e-3).p_chi)
    ps = np.array(ps)
    r05, r01 = np.mean(ps < 0.05), np.mean(ps < 0.01)
    expect(r05 <= 0.05 + 3 * np.sqrt(0.05 * 0.95 / reps), f"rate at 0.05: {r05:.3f}")
    expect(r01 <= 0.01 + 3 * np.sqrt(0.01 * 0.99 / reps), f"rate at 0.01: {r01:.3f}")
    expect(r05 >= 0.05 - 3 * np.sqrt(0.05 * 0.95 / reps), f"too conservative at 0.05: {r05:.3f}")
    return f"rejection rate {r05:.3f} at 0.05, {r01:.3f} at 0.01 ({reps} null replicates)"


def case_raw_summary_modes_agree(tmp):
    """Row-block (P <= M) and column-block (P > M) streaming give the same spectrum and rows."""
    rng = np.random.default_rng(7)
    X = rng.standard_normal((40, 30)) @ rng.standard_normal((30, 30))
    v = rng.standard_normal(30)
    task = theorems.RowTask(v[None, :], scale=rng.uniform(0.5, 2, 40))
    a = theorems.raw_summary([(X, 1.0)], vectors=[v], tasks=[task])        # P <= M: covariance
    task20 = theorems.RowTask(v[None, :], scale=task.scale[:20])
    b = theorems.raw_summary([(X[:20], 1.0)], vectors=[v], tasks=[task20])  # P > M: Gram matrix
    c = np.linalg.eigvalsh(np.cov(X[:20].T))[::-1]
    expect(np.allclose(b.eig, c[:len(b.eig)]), "Gram eigenvalues differ from covariance ones")
    expect(np.allclose(np.cov(X.T).trace(), a.eig.sum()), "covariance trace")
    Y = X * task.scale[:, None] - v
    expect(np.allclose(a.rows[0], np.sum(Y ** 2, axis=1)), "row task (row blocks)")
    expect(np.allclose(b.rows[0], np.sum(Y[:20] ** 2, axis=1)), "row task (column blocks)")
    Xc = X[:20] - X[:20].mean(axis=0)
    expect(np.isclose(np.sum(b.proj[0] ** 2 * b.eig), v @ (Xc.T @ Xc / 19) @ v),
           "projections: vᵀΣv")
    return "spectra, projections and row tasks agree"


CASES = [case_correct_file_passes, case_biased_fails_check1, case_mislabelled_weights_fail_check1,
         case_drift_slope_one_fails_3a, case_drift_only_points, case_half_run_c_refused,
         case_wrong_schema_version, case_missing_file, case_missing_dataset, case_not_hdf5,
         case_train_only_skips, case_two_files, case_task_files_pooled, case_no_raw_samples,
         case_saddlepoint_accuracy,
         case_check1_null_calibration, case_raw_summary_modes_agree]


def main():
    passed = failed = 0
    with tempfile.TemporaryDirectory(prefix="flexcl_theorems_") as tmp:
        for case in CASES:
            name = case.__name__[len("case_"):]
            try:
                detail = case(tmp)
                print(f"ok   {name}: {detail}")
                passed += 1
            except Failure as e:
                print(f"FAIL {name}: {e}")
                failed += 1
            except Exception:  # noqa: BLE001 — report any crash as a failed case
                print(f"FAIL {name}: crashed: " + traceback.format_exc().strip().splitlines()[-1])
                failed += 1
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
