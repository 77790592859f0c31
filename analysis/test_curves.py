#!/usr/bin/python3
"""Self-contained tests of analysis/curves.py (learning curves, b-robustness) and analysis/paired.py on synthetic results files
whose truth is known (analysis/make_synthetic.py: write_brobust, write_supervised). No pytest needed.

Run:  /usr/bin/python3 analysis/test_curves.py
Prints one line per case and finishes with "N passed, M failed"; exits 1 on any failure.

False-fail rates (each case uses a fixed seed, so its outcome is deterministic; the rates say how often
the case would fail over seeds if the code were right):
  slope_detected        |slope − 20| ≤ 4 SE (SE from the t-interval, df 5): P(|t₅| > 4) ≈ 1.0 %;
                        detection at 99 % with slope/SE ≈ 13: < 1e-4
                        (the mirror contrast likewise, truth −10)
  flat_not_resolved     the 99 % CIs of a zero slope and a zero mirror contrast contain 0: ≤ 2 %
  wrong_sign            the 99 % CI of slope −20 excludes 0 on the negative side: < 1e-4
  error_metric          as slope_detected (error metric, slope −0.05 with SE ≈ 0.004)
  coverage_*            (3 bands in coverage_slope/mean_and_ols: ≈ 0.3 % each) empirical coverage of 400 simulated 95 % intervals within 3 binomial SEs of
                        0.95: ≈ 0.3 % each; the pooled-OLS twin on paired data must over-cover (it
                        ignores the shared replicate offsets) and FAIL that band
  test_error_series     deterministic (no statistics): the figure's train and test series equal the
                        file's curves; its twin (the pre-fix reader without curve/test_error, and
                        train/test swapped) must FAIL that check
  paired_differences    analysis/paired.py: each of 3 known paired differences within 4 SE
                        (df 5): ≈ 1.0 % each; its twin (pairing broken by shifting the replicate
                        index) must give an interval ≥ 5× wider (replicate offsets sd 2 points
                        against pair noise sd 0.2: ≈ 10× expected)
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
import curves  # noqa: E402
import make_synthetic  # noqa: E402

import paired  # noqa: E402

CURVES = os.path.join(HERE, "curves.py")
PAIRED = os.path.join(HERE, "paired.py")
THEOREMS = os.path.join(HERE, "theorems.py")
B = np.array(make_synthetic.B_GRID)


class Failure(Exception):
    pass


def expect(cond, what):
    if not cond:
        raise Failure(what)


def groups_of(path, level):
    runs, _ = curves.drop_duplicates(curves.read_file(path))
    return curves.b_groups(runs, curves.WINDOW, level)


def one_group(path, level):
    gs = groups_of(path, level)
    expect(len(gs) == 1, f"{len(gs)} b-groups, expected 1")
    return gs[0]


def se_of(slope, level):
    return (slope.hi - slope.lo) / 2 / stats.t.ppf(0.5 + level / 2, slope.df)


# --------------------------------------------------------------------------------------------------

def case_slope_detected(tmp):
    """NLL rising by 20 nats per unit b on BAS (6 replicates with shared offsets, sd 15): the
    per-replicate slope finds 20 within 4 SE and the paper's direction (lower b better) is supported."""
    path = make_synthetic.write_brobust(os.path.join(tmp, "up.h5"), 20.0, seed=11)
    g = one_group(path, 0.99)
    s = g.slope
    se = se_of(s, 0.99)
    expect(g.metric == "nll" and g.expected == +1, f"metric {g.metric}, expected {g.expected}")
    expect([r.n for r in g.rows] == [6] * 9, f"n per b {[r.n for r in g.rows]}")
    expect([r.learners for r in g.rows] == [12] * 9, "learners per b")
    expect("per-replicate" in s.test and s.df == 5, f"test {s.test!r}")
    expect(abs(s.value - 20.0) <= 4 * se, f"slope {s.value:.3f}, SE {se:.3f}, truth 20")
    expect(g.direction() == "supported", f"direction {g.direction()}")
    m = g.mirror          # truth: mean of 20·(b − (1 − b)) over b = 0.1 … 0.4 = −10
    se_m = se_of(m, 0.99)
    expect(abs(m.value + 10.0) <= 4 * se_m, f"mirror contrast {m.value:.3f}, SE {se_m:.3f}")
    expect(g.mirror_direction() == "supported", f"mirror direction {g.mirror_direction()}")
    line = curves.finding(g)
    expect("is supported at 99%" in line and "lowest at b = " in line, line)
    return (f"slope {s.value:.2f} (SE {se:.2f}, truth 20), mirror {m.value:.2f} (SE {se_m:.2f}, "
            "truth −10): supported")


def case_flat_not_resolved(tmp):
    """The twin with no effect of b: the CI of the slope contains 0, so no direction is claimed."""
    path = make_synthetic.write_brobust(os.path.join(tmp, "flat.h5"), 0.0, seed=12)
    g = one_group(path, 0.99)
    expect(g.slope.lo < 0 < g.slope.hi, f"CI [{g.slope.lo:.3f}, {g.slope.hi:.3f}] excludes 0")
    expect(g.direction() == "not resolved", f"direction {g.direction()}")
    expect(g.mirror_direction() == "not resolved", f"mirror direction {g.mirror_direction()}")
    expect("is not supported at 99% (the CI contains 0)" in curves.finding(g), curves.finding(g))
    return f"slope {g.slope.value:.2f}, CI [{g.slope.lo:.2f}, {g.slope.hi:.2f}]: not resolved"


def case_wrong_sign(tmp):
    """NLL falling with b on BAS: the paper's direction is contradicted, not supported."""
    path = make_synthetic.write_brobust(os.path.join(tmp, "down.h5"), -20.0, seed=13)
    g = one_group(path, 0.99)
    expect(g.direction() == "contradicted", f"direction {g.direction()}")
    return f"slope {g.slope.value:.2f}: contradicted"


def case_error_metric(tmp):
    """Labelled image data: the error (not the NLL) is the metric, the paper expects it to fall with
    b; a slope of −0.05 per unit b is found within 4 SE and supports the paper."""
    path = make_synthetic.write_brobust(os.path.join(tmp, "err.h5"), -0.05, metric="error",
                                        seed=14, rep_sd=0.03, point_sd=0.005)
    g = one_group(path, 0.99)
    se = se_of(g.slope, 0.99)
    expect(g.metric == "error" and g.expected == -1, f"metric {g.metric}, expected {g.expected}")
    expect(abs(g.slope.value + 0.05) <= 4 * se, f"slope {g.slope.value:.4f}, SE {se:.4f}")
    expect(g.direction() == "supported", f"direction {g.direction()}")
    return f"slope {g.slope.value:.4f} (SE {se:.4f}, truth −0.05): supported"


def case_final_window(tmp):
    """The final metric is the mean over the last quarter of the steps, then over learners."""
    steps = np.arange(0, 101, 10, dtype=np.uint64)
    y = np.vstack([np.arange(11.0), 100 + np.arange(11.0)])
    run = curves.Run("x", "/points/000000", {"model": "rbm", "b": 0.5}, "j", steps,
                     {"steps": steps[None, :].astype(float)}, {"nll": y})
    want = np.mean([np.mean(y[0, 8:]), np.mean(y[1, 8:])])       # steps 80, 90, 100 ≥ 75
    expect(abs(run.final("nll", 0.25) - want) < 1e-12, f"window 0.25: {run.final('nll', 0.25)}")
    expect(abs(run.final("nll", 0.0) - 60.0) < 1e-12, f"window 0: {run.final('nll', 0.0)}")
    return f"window 0.25 → {want:g}, window 0 → 60"


def _coverage(estimator, truth, reps=400, seed=2024):
    rng = np.random.default_rng(seed)
    hits = 0
    for _ in range(reps):
        lo, hi = estimator(rng)
        hits += lo <= truth <= hi
    return hits / reps


def _band_ok(cov, reps=400, level=0.95):
    return abs(cov - level) <= 3 * np.sqrt(level * (1 - level) / reps)


def _paired(rng, slope=7.0, R=5):
    u = rng.normal(0, 15, R)
    return [(r, b, slope * b + u[r] + rng.normal(0, 3)) for r in range(R) for b in B]


def case_coverage_slope(tmp):
    """Per-replicate slopes: 95 % coverage of the true slope on paired data (shared offsets)."""
    cov = _coverage(lambda rng: (lambda s: (s.lo, s.hi))(curves.slope_test(_paired(rng))), 7.0)
    expect(_band_ok(cov), f"coverage {cov:.3f}")
    # the mirror contrast of the same data: truth 7 · mean(2b − 1 over b = 0.1 … 0.4) = −3.5
    cm = _coverage(lambda rng: (lambda s: (s.lo, s.hi))(curves.mirror_test(_paired(rng))), -3.5,
                   seed=5)
    expect(_band_ok(cm), f"mirror coverage {cm:.3f}")
    return f"slope coverage {cov:.3f}, mirror contrast {cm:.3f} (400 data sets each)"


def case_coverage_pooled_twin_fails(tmp):
    """The twin that must fail: pooled OLS over the same paired points (one 'replicate') ignores the
    shared offsets, so its residual SE is inflated and it over-covers far outside the band."""
    def pooled(rng):
        s = curves.slope_test([(0, b, y) for _, b, y in _paired(rng)])
        expect("OLS over" in s.test, s.test)
        return s.lo, s.hi
    cov = _coverage(pooled, 7.0)
    expect(not _band_ok(cov), f"pooled OLS coverage {cov:.3f} inside the band")
    return f"pooled-OLS coverage {cov:.3f}: outside the band, as it must be"


def case_coverage_mean_and_ols(tmp):
    """The per-b t-interval (n = 3) and the single-replicate OLS fallback cover at 95 %."""
    def mean3(rng):
        _, _, _, lo, hi = curves.t_interval(rng.normal(2.0, 1.0, 3))
        return lo, hi

    def ols(rng):
        s = curves.slope_test([(0, b, -4.0 * b + rng.normal(0, 1)) for b in B])
        return s.lo, s.hi
    c1, c2 = _coverage(mean3, 2.0), _coverage(ols, -4.0, seed=7)
    expect(_band_ok(c1), f"t-interval coverage {c1:.3f}")
    expect(_band_ok(c2), f"OLS coverage {c2:.3f}")
    return f"t-interval {c1:.3f}, OLS {c2:.3f}"


def case_cli_and_report(tmp):
    """curves.py and theorems.py on a BAS b-grid plus a supervised (ff) file: figures, tables and the
    finding at 95 %; theorems.py adds the sections without verdict rows and exits 0."""
    up = make_synthetic.write_brobust(os.path.join(tmp, "cli_up.h5"), 20.0, seed=21)
    sup = make_synthetic.write_supervised(os.path.join(tmp, "cli_sup.h5"))
    out = os.path.join(tmp, "cli_out")
    p = subprocess.run([sys.executable, CURVES, up, sup, "--out", out], capture_output=True,
                       text=True)
    expect(p.returncode == 0, f"curves.py exit {p.returncode}: {p.stderr.strip()}")
    files = set(os.listdir(out))
    expect({"curves.md", "brobust.png", "curves_1.png", "curves_2.png", "curves_3.png"} <= files,
           f"files {sorted(files)}")
    expect("is supported at 95%" in p.stdout and "per-replicate OLS slopes" in p.stdout,
           "finding not printed")
    expect("ff / isd" in p.stdout and "train_error" in p.stdout, "supervised curves missing")
    rep = os.path.join(tmp, "cli_report")
    p = subprocess.run([sys.executable, THEOREMS, up, sup, "--report", rep], capture_output=True,
                       text=True)
    expect(p.returncode == 0, f"theorems.py exit {p.returncode}: {p.stderr.strip()}")
    expect(" FAIL" not in p.stdout, "a FAIL row")
    text = open(os.path.join(rep, "report.md"), encoding="utf-8").read()
    expect("b-robustness" in text and "**Finding.**" in text, "report lacks the b-robustness section")
    expect(os.path.exists(os.path.join(rep, "brobust.png")), "report lacks brobust.png")
    return "curves.py and theorems.py: figures, tables, finding; exit 0"


def case_cli_errors(tmp):
    """Exit 2 with one line on stderr: a missing file, a file without train points."""
    empty = os.path.join(tmp, "empty.h5")
    with h5py.File(empty, "w") as f:
        f.create_group("points")
    lines = []
    for path, needle in ((os.path.join(tmp, "nope.h5"), "no such file"), (empty, "no train points")):
        p = subprocess.run([sys.executable, CURVES, path, "--out", os.path.join(tmp, "e")],
                           capture_output=True, text=True)
        err = p.stderr.strip().splitlines()
        expect(p.returncode == 2 and len(err) == 1 and needle in err[0] and path in err[0],
               f"exit {p.returncode}, stderr {p.stderr!r}")
        lines.append(err[0])
    return "; ".join(lines)


def _expected_split(path, run, split):
    """The truth of a point's train or test error curve [L, E], read straight from the file by the
    schema (docs/schema.md), or None when the file has none: registry models curve/error and
    curve/test_error, supervised learners 1 − curve/train_acc and 1 − curve/test_acc (NaN = none)."""
    with h5py.File(path, "r") as f:
        c = f[run.point]["curve"]
        if run.model in curves.SUPERVISED:
            name = {"train": "train_acc", "test": "test_acc"}[split]
            a = 1.0 - np.atleast_2d(c[name][...]) if name in c else None
        else:
            name = {"train": "error", "test": "test_error"}[split]
            a = np.atleast_2d(c[name][...]) if name in c else None
    return a if a is not None and np.isfinite(a).any() else None


def check_split_series(files_runs):
    """Every configuration of every curve group whose points have a train (test) error curve in the
    file must have a 'train' ('test') series in its figure's error panel equal to the mean of those
    curves over learners × replicates; no series where the file has none. files_runs: [(path, runs)].
    Returns (groups, train series, test series) checked; raises Failure otherwise."""
    where = {id(r): p for p, runs in files_runs for r in runs}
    runs = [r for _, rs in files_runs for r in rs if r.metrics]
    seen = {"train": 0, "test": 0}
    groups = curves.curve_groups(runs)
    for title, configs in groups:
        panels = dict(curves.curve_series(configs))
        got = {(s.config, s.split): s for s in panels.get("error", [])}
        for c in configs:
            for split in ("train", "test"):
                truth = [a for a in (_expected_split(where[id(r)], r, split) for r in c.runs)
                         if a is not None]
                s = got.get((c.label, split))
                if not truth:
                    expect(s is None, f"{title}, {c.label}: a {split} series without {split} data")
                    continue
                expect(s is not None, f"{title}, {c.label}: the {split} error curve is in the file "
                       f"but not in the figure data")
                want = np.nanmean(np.vstack(truth), axis=0)
                expect(s.curves == sum(a.shape[0] for a in truth),
                       f"{title}, {c.label}, {split}: {s.curves} curves, file has "
                       f"{sum(a.shape[0] for a in truth)}")
                expect(np.allclose(s.y, want, atol=1e-12),
                       f"{title}, {c.label}, {split}: series {np.round(s.y, 4)} != file "
                       f"{np.round(want, 4)}")
                seen[split] += 1
    return len(groups), seen["train"], seen["test"]


def case_test_error_series(tmp):
    """The figure data of curves.py hold the test-error curve of every model kind that writes one
    (eqprop two_term and tcl, labelled rbm: curve/test_error; ff: 1 − curve/test_acc) beside the
    train-error curve, each the mean over learners × replicates of the file's curves (checked
    against the file read directly), and the tables list both; the figures draw."""
    reg = make_synthetic.write_registry(os.path.join(tmp, "registry.h5"), seed=41)
    sup = make_synthetic.write_supervised(os.path.join(tmp, "sup_test.h5"), seed=42)
    fr = [(p, curves.read_file(p)) for p in (reg, sup)]
    n, ntrain, ntest = check_split_series(fr)
    expect(n == 5 and ntrain == 5 and ntest == 5, f"{n} groups, {ntrain} train and {ntest} test "
           "series (expected 5 each: eqprop two_term, eqprop tcl, rbm, ff two_term, ff isd)")
    sections, _ = curves.report([r for _, rs in fr for r in rs])
    for title, _configs, lines, fig in sections:
        expect(any("| test_error |" in ln for ln in lines), f"{title}: no test_error table row")
        expect(len(fig.axes) == (2 if "rbm" in title else 1), f"{title}: {len(fig.axes)} panels")
        curves.plt.close(fig)
    return f"{n} groups: {ntrain} train and {ntest} test series equal to the file's curves"


def case_test_error_series_twin_fails(tmp):
    """The twins that must fail check_split_series: (a) the runs as the reader before the fix
    extracted them (curve/test_error never read: no test_error metric) — the test curve in the file
    is missing from the figure data; (b) train and test swapped."""
    reg = make_synthetic.write_registry(os.path.join(tmp, "registry_twin.h5"), seed=43)
    out = []
    for what, tamper in (("without test_error", lambda r: r.metrics.pop("test_error", None)),
                         ("train/test swapped", lambda r: r.metrics.update(
                             train_error=r.metrics["test_error"],
                             test_error=r.metrics["train_error"]))):
        runs = curves.read_file(reg)
        for r in runs:
            tamper(r)
        try:
            check_split_series([(reg, runs)])
        except Failure as e:
            out.append(f"{what}: fails as it must ({str(e).split(' — ')[-1]})")
            continue
        raise Failure(f"{what}: check_split_series passed")
    return "; ".join(out)


def case_no_test_data(tmp):
    """Files without test curves (a registry-model file from before curve/test_error, a supervised
    job without a test set) keep working: train series only, no test rows, figures drawn, exit 0."""
    reg = make_synthetic.write_registry(os.path.join(tmp, "registry_old.h5"), test=False, seed=44)
    sup = make_synthetic.write_supervised(os.path.join(tmp, "sup_notest.h5"), seed=45, test=False)
    fr = [(p, curves.read_file(p)) for p in (reg, sup)]
    n, ntrain, ntest = check_split_series(fr)
    expect(ntrain == 5 and ntest == 0, f"{ntrain} train and {ntest} test series")
    out = os.path.join(tmp, "notest_out")
    p = subprocess.run([sys.executable, CURVES, reg, sup, "--out", out], capture_output=True,
                       text=True)
    expect(p.returncode == 0, f"curves.py exit {p.returncode}: {p.stderr.strip()}")
    expect("test_error" not in p.stdout and "train_error" in p.stdout, "table rows")
    expect(sum(name.startswith("curves_") for name in os.listdir(out)) == n, "figures")
    return f"{n} groups, {ntrain} train series, no test series; curves.py exit 0"


def case_paired_differences(tmp):
    """paired.py recovers known paired differences (+0.10, −0.40, +2.00 points, replicate offsets of
    sd 2 points shared within a replicate, pair noise sd 0.2 points, 6 replicates): each truth within
    4 SE of its estimate (SE from the 95 % t-interval, df 5: P(|t₅| > 4) ≈ 1.0 % per configuration),
    and the verdicts at margin 0.5 agree with the truth where the interval resolves it. Twin that must
    fail: pairing by a shifted replicate index (unpaired) gives intervals at least 5 times wider."""
    path = make_synthetic.write_paired(os.path.join(tmp, "paired.h5"), [0.001, -0.004, 0.02],
                                       seed=31)
    runs = curves.read_file(path)
    rows, base = paired.compare(runs, "model", "backprop", 0.95, 0.5)
    expect(base[1] == 6 and len(rows) == 3, f"baseline {base}, {len(rows)} rows")
    t = stats.t.ppf(0.975, 5)
    truth = {"model.alpha=0": 0.10, "model.alpha=1": -0.40, "model.alpha=2": 2.00}
    widths = []
    for label, n, acc, (k, m, sd, lo, hi), verdict in rows:
        se = (hi - lo) / (2 * t)
        expect(abs(m - truth[label]) <= 4 * se, f"{label}: {m:+.3f} vs truth {truth[label]:+.2f} "
               f"(SE {se:.3f})")
        widths.append(hi - lo)
        if label == "model.alpha=0":
            expect(verdict == "within, equivalent", f"{label}: verdict {verdict!r}")
        if label == "model.alpha=2":
            expect(verdict == "outside, differs", f"{label}: verdict {verdict!r}")
    # the twin: pair replicate r with the baseline of replicate r + 1 (mod 6)
    base_runs = {r.replicate: r for r in runs if r.model == "backprop"}
    other = [r for r in runs if r.model != "backprop" and r.attrs.get("model.alpha") == "0"]
    d = [100 * (paired.final_accuracy(r) - paired.final_accuracy(base_runs[(r.replicate + 1) % 6]))
         for r in other]
    _, _, _, lo, hi = curves.t_interval(d, 0.95)
    expect(hi - lo >= 5 * widths[0], f"unpaired twin interval {hi - lo:.3f} not wider than "
           f"5 x the paired {widths[0]:.3f}")
    p = subprocess.run([sys.executable, PAIRED, path, "--baseline", "model=backprop", "--margin",
                        "0.5"], capture_output=True, text=True)
    expect(p.returncode == 0 and "| model.alpha=2 |" in p.stdout, f"exit {p.returncode}: "
           f"{p.stderr.strip()}")
    return (", ".join(f"{r[0]} {r[3][1]:+.2f} [{r[3][3]:+.2f}, {r[3][4]:+.2f}] {r[4]}" for r in rows)
            + f"; unpaired twin width {hi - lo:.2f} vs paired {widths[0]:.2f}")


def case_paired_errors(tmp):
    """paired.py exits 2 with one line: no baseline match, a malformed --baseline, a missing baseline
    replicate."""
    path = make_synthetic.write_paired(os.path.join(tmp, "perr.h5"), [0.0], replicates=3, seed=3)
    holey = os.path.join(tmp, "perr_holey.h5")
    make_synthetic.write_paired(holey, [0.0], replicates=3, seed=3)
    with h5py.File(holey, "a") as f:
        del f["points/000002"]                       # the baseline of replicate 2
    lines = []
    for args, needle in (([path, "--baseline", "model=ff"], "no point has model=ff"),
                         ([path, "--baseline", "model"], "needs ATTR=VALUE"),
                         ([holey, "--baseline", "model=backprop"], "no baseline point")):
        p = subprocess.run([sys.executable, PAIRED] + args, capture_output=True, text=True)
        err = p.stderr.strip().splitlines()
        expect(p.returncode == 2 and len(err) == 1 and needle in err[0],
               f"{args}: exit {p.returncode}, stderr {p.stderr!r}")
        lines.append(err[0])
    return "; ".join(lines)


CASES = [case_slope_detected, case_flat_not_resolved, case_wrong_sign, case_error_metric,
         case_final_window, case_coverage_slope, case_coverage_pooled_twin_fails,
         case_coverage_mean_and_ols, case_cli_and_report, case_cli_errors,
         case_test_error_series, case_test_error_series_twin_fails, case_no_test_data,
         case_paired_differences, case_paired_errors]


def main():
    passed = failed = 0
    with tempfile.TemporaryDirectory(prefix="flexcl_curves_") as tmp:
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
