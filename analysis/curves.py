#!/usr/bin/python3
"""Learning curves per model and estimator, and the robustness of the final metric to b (SPEC §6.4).

Usage:  curves.py RESULTS.h5 [RESULTS2.h5 ...] --out DIR [--x auto|steps|phases|updates|epochs]
                  [--window 0.25] [--level 0.95]

Reads every train point of the files (docs/schema.md; the registry models rbm and eqprop under any
estimator, tcl included, and the supervised learners ff, dp, dpt, backprop) and writes into DIR:

  - curves_<g>.png, one figure per (model, estimator, data set): an `error` panel with, per
    configuration, the train error (solid) and the test error (dashed) where the points have them, and
    an `nll` panel (the exact summed NLL of the training rows, RBMs with n_h ≤ 24) — against phases
    (registry models rbm and eqprop; tcl cycles for estimator tcl) or epochs (supervised learners),
    steps or updates (--x). Train error: registry models curve/error (the training rows: all of them
    for the RBM, the first run.eval_rows for eqprop); supervised learners 1 − curve/train_acc (first
    run.eval_rows training rows). Test error: registry models curve/test_error (the first
    run.eval_rows test rows; written for labelled IDX data with data.test_images); supervised learners
    1 − curve/test_acc (every test row; NaN, so no series, without a test set). A file without a test
    curve draws the train series only. One colour per configuration (the points that differ only in
    replicate): the mean over every curve (learners × replicates), with a band of ± 1 sd over those
    curves. curve_series() returns exactly what is drawn.
  - brobust.png, when some configurations differ only in estimator.b: the final metric against b, one
    panel per such group (a data set), with 95 % t-intervals over replicates (seeds).
  - curves.md: the tables and findings below (also printed).

Final metric of a point: the mean over its learners of the mean of the curve over the final window (the
curve points with steps ≥ (1 − window) · last step; window 0 = the last point only). Averaging the last
quarter of a run (default) removes most of the step-to-step noise of batch-1 SGD without mixing in the
early transient. The statistical unit is the replicate (grid point): learners of one point are averaged.

b-robustness, per group of points that differ only in b (and replicate):
  - per b: n replicates, mean, t-interval mean ± t_{n−1} sd/√n at --level (default 0.95);
  - slope of the final metric against b: each replicate's OLS slope over its own b values, then a
    t-interval over the replicates (valid for independent replicates whether or not the points of a
    replicate share random streams, run.streams = replicate; sharing makes it a paired design). With a
    single replicate: OLS over the points with its residual SE (df = k − 2), which assumes independent
    points;
  - the mirror contrast D: per replicate, the mean over b < ½ of y(b) − y(1 − b) (the lower half of the
    grid against its mirror image, < 0 when lower b is better whatever the shape of the curve: a slope
    summarises a U-shape poorly), with a t-interval over replicates;
  - a one-line finding: best b, the slope and D with their CIs and whether the paper's direction (Williams et al.
    2023, RBM: lower b better on BAS, higher b better on bMNIST — here any binarised image data with label
    units) is supported (CI excludes 0 on the paper's side), contradicted (excludes 0 on the other
    side) or not resolved at that level. These are findings, not theorem checks: no verdict.

Exit status 0; 2 with one line on stderr when a file cannot be read or holds no train points.
analysis/theorems.py imports this module and puts the same figures and tables into its report.
"""
from __future__ import annotations

import argparse
import hashlib
import math
import os
import re
import sys
import textwrap
import warnings
from dataclasses import dataclass, field

import h5py
import numpy as np
from scipy import stats

import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402

PROG = "curves.py"
WINDOW = 0.25                 # final window: the last quarter of the steps
LEVEL = 0.95                  # confidence level of every interval
X_AXES = ("auto", "steps", "phases", "updates", "epochs")
SUPERVISED = ("ff", "dp", "dpt", "backprop")
NO_ESTIMATOR = ("dp", "dpt", "backprop")             # single-phase / backprop: estimator.* unused
NOT_CONFIG = {"index", "replicate", "seed"}          # what replicates of one configuration differ in
SWEPT_B = {"b", "estimator.b"}
METRIC_LABEL = {"nll": "summed NLL of the training rows (nats)",
                "error": "classification error",
                "train_error": "train error (training rows)",
                "test_error": "test error (test rows)"}
# The panels of a curve figure and the series each may hold: (split, metric). The error panel draws
# the training-row error and the test-row error of every configuration side by side (solid, dashed);
# curve/error of unknown split ('error', split "") only for a point that has neither.
PANELS = (("error", (("train", "train_error"), ("test", "test_error"))),
          ("nll", (("", "nll"),)))
PANEL_LABEL = {"error": "classification error (1 − accuracy)",
               "nll": METRIC_LABEL["nll"]}
SPLIT_STYLE = {"train": "-", "test": "--", "": "-"}


class CurveError(Exception):
    """A file or curve group that cannot be read; the message is one line."""


from common import _scalar, _first_line, open_results  # noqa: E402,F401  (analysis/common.py)


def _fmt(value):
    return f"{value:g}" if isinstance(value, float) else str(value)


# --------------------------------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------------------------------

@dataclass
class Run:
    """The curves of one train point: arrays [learners, E] (x axes and metrics) and [E] (steps)."""
    file: str
    point: str                  # e.g. /points/000003
    attrs: dict
    job: str                    # digest of the job (job_hash, else job_text): task files share it
    steps: np.ndarray           # [E]
    x: dict                     # 'steps' | 'phases' | 'updates' | 'epochs' -> [L, E]
    metrics: dict               # 'nll' | 'error' | 'train_error' | 'test_error' -> [L, E], only when
    #                             some value is finite; 'error' is curve/error as written (b-robustness,
    #                             paired.py), train_error/test_error say which rows (_split_errors)

    model = property(lambda self: str(self.attrs.get("model", "?")))
    estimator = property(lambda self: str(self.attrs.get("estimator", "?")))
    data = property(lambda self: str(self.attrs.get("data", "?")))
    b = property(lambda self: float(self.attrs.get("b", float("nan"))))
    replicate = property(lambda self: int(self.attrs.get("replicate", 0)))
    index = property(lambda self: int(self.attrs.get("index", int(self.point[-6:]))))

    @property
    def supervised(self):
        return self.model in SUPERVISED

    @property
    def learners(self):
        return next(iter(self.metrics.values())).shape[0] if self.metrics else 0

    def primary(self):
        """The metric of the b-robustness figure: error with labels, else the exact NLL."""
        for m in ("error", "nll"):
            if m in self.metrics:
                return m
        return None

    def final(self, metric, window=WINDOW):
        """Mean over learners of the curve's mean over the final window (NaN-aware)."""
        y = self.metrics[metric]
        last = float(self.steps[-1])
        keep = self.steps.astype(float) >= (1.0 - window) * last if window > 0 else \
            np.arange(self.steps.size) == self.steps.size - 1
        keep[-1] = True
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)     # all-NaN rows
            return float(np.nanmean(np.nanmean(y[:, keep], axis=1)))


def _job_digest(f, path):
    if "job_hash" in f.attrs:
        return str(_scalar(f.attrs["job_hash"]))
    text = _scalar(f.attrs["job_text"]) if "job_text" in f.attrs else path
    return hashlib.sha1(str(text).encode()).hexdigest()[:16]


def _rows(f, name, E, dtype=float):
    """Dataset name as [rows, E] (a [E] vector becomes one row); None when absent."""
    if name not in f:
        return None
    a = np.asarray(f[name][...], dtype=dtype)
    if a.ndim == 1:
        a = a[None, :]
    if a.ndim != 2 or a.shape[1] != E:
        raise CurveError(f"{name} has shape {a.shape}, expected (learners, {E})")
    return a


def _metric(f, point, name, E, flip=False):
    """curve/<name> as [rows, E] (1 − it when flip), or None when absent or all NaN."""
    a = _rows(f, f"{point}/curve/{name}", E)
    if a is None or not np.isfinite(a).any():
        return None
    return 1.0 - a if flip else a


def _split_errors(f, point, E, supervised, metrics):
    """{'train_error': [L, E], 'test_error': [L, E]}, each only when the point has it.

    Registry models (rbm, eqprop; any estimator, tcl included) write curve/error on the training rows
    and, with a test set (labelled IDX data, data.test_images), curve/test_error on the test rows.
    Supervised learners (ff, dp, dpt, backprop) write curve/train_acc and curve/test_acc (NaN without a
    test set); their curve/error is 1 − test accuracy, or 1 − train accuracy without a test set. A
    supervised point without curve/test_acc (flexcl run always writes it; synthetic files such as
    make_synthetic.write_paired's may lack it) counts its curve/error as the test error when it
    differs from 1 − train accuracy. Files from before curve/test_error (registry models) simply have
    no test error."""
    out = {}
    if supervised:
        train = _metric(f, point, "train_acc", E, flip=True)
        test = _metric(f, point, "test_acc", E, flip=True)
        if (test is None and f"{point}/curve/test_acc" not in f and "error" in metrics
                and train is not None
                and not np.allclose(metrics["error"], train, equal_nan=True)):
            test = metrics["error"]
    else:
        train, test = metrics.get("error"), _metric(f, point, "test_error", E)
    if train is not None:
        out["train_error"] = train
    if test is not None:
        out["test_error"] = test
    return out


def read_point(f, point, path="?", job=None):
    """The Run of group `point` of the open h5py file f, or None when it is not a train point."""
    try:
        attrs = {k: _scalar(v) for k, v in f[point].attrs.items()}
        if attrs.get("experiment", "train") != "train" or f"{point}/curve/steps" not in f:
            return None
        steps = np.asarray(f[f"{point}/curve/steps"][...], dtype=np.uint64).reshape(-1)
        E = steps.size
        x = {"steps": np.asarray(steps, dtype=float)[None, :]}
        for key, name in (("phases", "phases"), ("updates", "updates"), ("epochs", "epoch")):
            a = _rows(f, f"{point}/curve/{name}", E)
            if a is not None:
                x[key] = a
        metrics = {}
        for key in ("nll", "error"):
            a = _metric(f, point, key, E)
            if a is not None:
                metrics[key] = a
        metrics.update(_split_errors(f, point, E, attrs.get("model") in SUPERVISED, metrics))
    except CurveError as e:
        raise CurveError(f"{path}: {point}: {e}")
    except (KeyError, OSError, ValueError, TypeError) as e:
        raise CurveError(f"{path}: cannot read the curve of {point} ({_first_line(e)})")
    if E == 0:
        raise CurveError(f"{path}: {point}/curve/steps is empty")
    return Run(path, point, attrs, job if job is not None else _job_digest(f, path), steps, x,
               metrics)


def read_file(path):
    """Every train point (Run) of a results file, in grid-point order."""
    with open_results(path, CurveError) as f:
        job = _job_digest(f, path)
        runs = [read_point(f, f"/points/{name}", path, job) for name in sorted(f["points"])]
    return [r for r in runs if r is not None]


def drop_duplicates(runs):
    """Keep the first of runs with the same job and index (a file given twice, overlapping task files)."""
    seen, kept = set(), []
    for r in runs:
        key = (r.job, r.index)
        if key not in seen:
            seen.add(key)
            kept.append(r)
    return kept, len(runs) - len(kept)


# --------------------------------------------------------------------------------------------------
# Grouping
# --------------------------------------------------------------------------------------------------

def config_key(run, exclude=()):
    """Everything a run's configuration is made of: its attributes but index, replicate and seed."""
    return tuple(sorted((k, _fmt(v)) for k, v in run.attrs.items()
                        if k not in NOT_CONFIG and k not in exclude))


def varying_names(keys):
    """Attribute names whose value differs between the given config keys (axis names first)."""
    dicts = [dict(k) for k in keys]
    names = sorted(set().union(*dicts)) if dicts else []
    vary = [n for n in names if len({d.get(n) for d in dicts}) > 1]
    # an axis attribute (estimator.b) says the same as its plain twin (b): keep one
    return [n for n in vary if not ("." in n and n.split(".")[-1] in vary)]


def dataset_name(data):
    """A short name of the `data` attribute: 'BAS 4x4', 'fashion-mnist (2000 of 60000 rows, labels)'."""
    if data.startswith("bas"):
        parts = data.split()
        return "BAS " + (parts[1] if len(parts) > 1 else "")
    m = re.match(r"idx (\S+)(?: \((.*)\))?", data)
    if not m:
        return data
    base = os.path.basename(os.path.dirname(m.group(1))) or os.path.basename(m.group(1))
    extra = m.group(2) or ""
    rows = re.search(r"(\d+) of (\d+) rows", extra)
    bits = [f"{rows.group(1)} of {rows.group(2)} rows"] if rows else []
    thr = re.search(r"threshold (\S+)", extra)
    if thr and not thr.group(1).startswith("-"):
        bits.append("binarised")
    if "label block" in extra:
        bits.append("label units")
    return base + (f" ({', '.join(bits)})" if bits else "")


def bas_optimum(data):
    """The NLL (nats) of a perfect model of the n×n bars-and-stripes rows (SPEC §4), or None."""
    m = re.match(r"bas (\d+)x\1 \((\d+) rows\)", data)
    if not m:
        return None
    n, rows = int(m.group(1)), int(m.group(2))
    R = 2 ** (n + 1)
    if rows != R:
        return None        # a subset (data.max_rows): the empirical law is not the full set's
    return (R - 4) * math.log(R) + 4 * math.log(R / 2)


@dataclass
class Config:
    """The runs (replicates) of one configuration."""
    key: tuple
    runs: list
    label: str = ""

    @property
    def b(self):
        return self.runs[0].b

    @property
    def curves(self):
        return sum(r.learners for r in self.runs)


def curve_groups(runs):
    """[(title, [Config])]: one group per (model, estimator, data set), configurations inside."""
    groups = {}
    for r in runs:
        E = tuple(int(s) for s in r.steps)
        gkey = (r.model, r.estimator if r.model not in NO_ESTIMATOR else "", r.data)
        ckey = config_key(r) + (("__steps", hashlib.sha1(str(E).encode()).hexdigest()[:8]),)
        groups.setdefault(gkey, {}).setdefault(ckey, []).append(r)
    out = []
    for (model, est, data), configs in groups.items():
        keys = list(configs)
        vary = [n for n in varying_names([k[:-1] for k in keys])
                if n not in ("model", "estimator", "data")]
        cs = []
        for k in keys:
            d = dict(k)
            label = ", ".join(f"{n}={d[n]}" for n in vary if n in d) or "all points"
            cs.append(Config(k, sorted(configs[k], key=lambda r: (r.replicate, r.index)), label))
        cs.sort(key=lambda c: (c.b if np.isfinite(c.b) else 0.0, c.label))
        out.append((f"{model}{' / ' + est if est else ''} — {dataset_name(data)}", cs))
    return out


# --------------------------------------------------------------------------------------------------
# Statistics
# --------------------------------------------------------------------------------------------------

def t_interval(values, level=LEVEL):
    """(n, mean, sd, lo, hi) of the t-interval of the mean (lo = hi = NaN when n < 2)."""
    v = np.asarray([x for x in values if np.isfinite(x)], dtype=float)
    n = v.size
    if n == 0:
        return 0, math.nan, math.nan, math.nan, math.nan
    mean = float(v.mean())
    if n < 2:
        return n, mean, math.nan, math.nan, math.nan
    sd = float(v.std(ddof=1))
    h = float(stats.t.ppf(0.5 + level / 2, n - 1)) * sd / math.sqrt(n)
    return n, mean, sd, mean - h, mean + h


def ols_slope(x, y):
    x, y = np.asarray(x, float), np.asarray(y, float)
    dx = x - x.mean()
    return float(dx @ (y - y.mean()) / (dx @ dx))


@dataclass
class Slope:
    value: float
    lo: float
    hi: float
    n: int          # replicates (per-replicate test) or points (OLS)
    df: int
    test: str


def slope_test(values, level=LEVEL):
    """values: [(replicate id, b, y)]. The slope of y against b with its CI (see the module doc)."""
    by_rep = {}
    for rep, b, y in values:
        if np.isfinite(y):
            by_rep.setdefault(rep, []).append((b, y))
    slopes = [ols_slope(*zip(*pts)) for pts in by_rep.values() if len({b for b, _ in pts}) >= 2]
    if len(slopes) >= 2:
        n, mean, _, lo, hi = t_interval(slopes, level)
        return Slope(mean, lo, hi, n, n - 1, f"t-interval over {n} per-replicate OLS slopes "
                     f"(df {n - 1})")
    pts = [(b, y) for rep, b, y in values if np.isfinite(y)]
    k = len(pts)
    if k < 2 or len({b for b, _ in pts}) < 2:
        return Slope(math.nan, math.nan, math.nan, k, 0, "too few points")
    x, y = (np.asarray(v, float) for v in zip(*pts))
    s = ols_slope(x, y)
    if k < 3:
        return Slope(s, math.nan, math.nan, k, 0, "OLS over 2 points (no CI)")
    resid = y - (y.mean() + s * (x - x.mean()))
    se = math.sqrt(float(resid @ resid) / (k - 2) / float(((x - x.mean()) ** 2).sum()))
    h = float(stats.t.ppf(0.5 + level / 2, k - 2)) * se
    return Slope(s, s - h, s + h, k, k - 2, f"OLS over {k} points, residual SE (df {k - 2}; "
                 "assumes independent points)")


def mirror_test(values, level=LEVEL):
    """values: [(replicate id, b, y)]. The mirror contrast D = mean over b < ½ of y(b) − y(1 − b)
    (lower half minus its mirror image; negative when lower b is better, whatever the shape) per
    replicate, then a t-interval over the replicates. Needs ≥ 2 replicates with a mirrored pair."""
    by_rep = {}
    for rep, b, y in values:
        if np.isfinite(y):
            by_rep.setdefault(rep, {})[round(b, 9)] = y
    ds = []
    for ys in by_rep.values():
        pairs = [ys[b] - ys[round(1 - b, 9)] for b in ys if b < 0.5 and round(1 - b, 9) in ys]
        if pairs:
            ds.append(float(np.mean(pairs)))
    if len(ds) < 2:
        return Slope(float(np.mean(ds)) if ds else math.nan, math.nan, math.nan, len(ds), 0,
                     "fewer than 2 replicates with a mirrored pair (no CI)")
    n, mean, _, lo, hi = t_interval(ds, level)
    return Slope(mean, lo, hi, n, n - 1, f"t-interval over {n} replicates (df {n - 1})")


def _direction(stat, expected):
    if not (np.isfinite(stat.lo) and np.isfinite(stat.hi)):
        return "no CI"
    sign = 1 if stat.lo > 0 else (-1 if stat.hi < 0 else 0)
    if not expected:
        return "no paper direction"
    if sign == 0:
        return "not resolved"
    return "supported" if sign == expected else "contradicted"


@dataclass
class BRow:
    b: float
    n: int
    mean: float
    sd: float
    lo: float
    hi: float
    learners: int
    values: list = field(default_factory=list)


@dataclass
class BGroup:
    """Points that differ only in b (and replicate): the final metric against b."""
    title: str
    data: str
    model: str
    estimator: str
    metric: str
    rows: list          # BRow per b, ascending
    slope: Slope
    mirror: Slope       # the mirror contrast D (mirror_test)
    expected: int       # +1: the paper has the metric increasing with b (lower b better); −1; 0 none
    paper: str          # the paper's statement, or ""
    window: float
    level: float

    @property
    def best(self):
        ok = [r for r in self.rows if np.isfinite(r.mean)]
        return min(ok, key=lambda r: r.mean) if ok else None

    def direction(self):
        """By the slope: 'supported' | 'contradicted' | 'not resolved' | 'no paper direction' |
        'no CI'."""
        return _direction(self.slope, self.expected)

    def mirror_direction(self):
        """The same by the mirror contrast (whose sign is opposite to the slope's)."""
        return _direction(self.mirror, -self.expected)


def paper_direction(run):
    """(expected sign of d metric / d b, statement) of Williams et al. 2023 for an RBM's data set."""
    if run.model != "rbm":
        return 0, ""
    if run.data.startswith("bas"):
        return +1, "lower b better on BAS"
    if run.data.startswith("idx") and "label block" in run.data:
        return -1, "higher b better on bMNIST"
    return 0, ""


def b_groups(runs, window=WINDOW, level=LEVEL):
    """Every group of ≥ 2 distinct b among points that differ only in b and replicate."""
    groups = {}
    for r in runs:
        if r.primary() is None or not np.isfinite(r.b):
            continue
        key = config_key(r, SWEPT_B) + (("run length (steps)", str(int(r.steps[-1]))),)
        groups.setdefault(key, []).append(r)
    out = []
    keys = [k for k, g in groups.items() if len({r.b for r in g}) >= 2]
    vary = [n for n in varying_names(keys) if n not in ("data", "model", "estimator")]
    for k in keys:
        g = groups[k]
        metric = "error" if all("error" in r.metrics for r in g) else "nll"
        if not all(metric in r.metrics for r in g):
            continue
        rows, values = [], []
        for b in sorted({r.b for r in g}):
            at = [r for r in g if r.b == b]
            ys = [r.final(metric, window) for r in at]
            n, mean, sd, lo, hi = t_interval(ys, level)
            rows.append(BRow(b, n, mean, sd, lo, hi, sum(r.learners for r in at), ys))
            values += [((r.job, r.replicate), b, y) for r, y in zip(at, ys)]
        r0 = g[0]
        d = dict(k)
        extra = ", ".join(f"{n}={d[n]}" for n in vary if n in d)
        title = (f"{dataset_name(r0.data)} — {r0.model} / {r0.estimator}"
                 + (f", {extra}" if extra else ""))
        expected, paper = paper_direction(r0)
        out.append(BGroup(title, r0.data, r0.model, r0.estimator, metric, rows,
                          slope_test(values, level), mirror_test(values, level), expected, paper,
                          window, level))
    return out


# --------------------------------------------------------------------------------------------------
# Tables, findings, figures
# --------------------------------------------------------------------------------------------------

def _num(v, digits=5):
    return "-" if not np.isfinite(v) else f"{v:.{digits}g}"


def _ci(lo, hi, digits=5):
    return "-" if not (np.isfinite(lo) and np.isfinite(hi)) else \
        f"[{lo:.{digits}g}, {hi:.{digits}g}]"


def x_axis_of(run, choice):
    """(key, label) of the x axis of a run: choice when the run has it, else the natural one."""
    natural = "epochs" if run.supervised else "phases"
    key = natural if choice == "auto" else choice
    if key not in run.x:
        key = natural if natural in run.x else "steps"
    label = {"steps": "time steps", "phases": "phases completed", "updates": "parameter updates",
             "epochs": "epochs"}[key]
    if run.estimator == "tcl" and key in ("phases", "updates"):
        label = "tcl cycles completed"      # one phase and one update per cycle (docs/tcl.md)
    return key, label


def table_metrics(config):
    """The metrics of a configuration's table rows: train_error, test_error (or curve/error when the
    point says neither split), nll — those every run of the configuration has."""
    ms = [m for m in ("train_error", "test_error") if all(m in r.metrics for r in config.runs)]
    if not ms and all("error" in r.metrics for r in config.runs):
        ms = ["error"]
    return ms + (["nll"] if all("nll" in r.metrics for r in config.runs) else [])


def config_table_lines(configs, window=WINDOW, level=LEVEL):
    """Markdown table: one row per configuration and metric of a curve group."""
    lines = [f"| configuration | replicates | curves | metric | first | final (last {window:.0%}) "
             f"mean | {level:.0%} CI over replicates |", "|---|---|---|---|---|---|---|"]
    for c in configs:
        for m in table_metrics(c):
            first = np.nanmean([np.nanmean(r.metrics[m][:, 0]) for r in c.runs])
            n, mean, _, lo, hi = t_interval([r.final(m, window) for r in c.runs], level)
            lines.append(f"| {c.label} | {len(c.runs)} | {c.curves} | {m} | {_num(first)} | "
                         f"{_num(mean)} | {_ci(lo, hi)} |")
    return lines


@dataclass
class Series:
    """One line of a curve figure: a configuration's mean curve of one metric over its curves."""
    config: str         # the configuration's label
    index: int          # its position in the group (colour)
    b: float
    split: str          # 'train' | 'test' | '' (nll; curve/error of unknown split)
    metric: str         # the key in Run.metrics
    x: np.ndarray       # [E] mean x over the curves
    xlabel: str
    y: np.ndarray       # [E] mean over the curves (learners × replicates)
    sd: np.ndarray      # [E] sd over the curves
    curves: int


def curve_series(configs, xchoice="auto"):
    """[(panel, [Series])]: what curve_figure draws, panel by panel ('error', then 'nll'; a panel
    only when some configuration has one of its metrics). Every configuration contributes its train
    and its test series to the error panel when its points have them."""
    out = []
    for panel, splits in PANELS:
        series = []
        for i, c in enumerate(configs):
            keys = [(sp, m) for sp, m in splits if any(m in r.metrics for r in c.runs)]
            if panel == "error" and not keys and any("error" in r.metrics for r in c.runs):
                keys = [("", "error")]
            for split, m in keys:
                runs = [r for r in c.runs if m in r.metrics]
                xkey, xlabel = x_axis_of(runs[0], xchoice)
                ys = np.vstack([r.metrics[m] for r in runs])
                xs = np.vstack([np.broadcast_to(r.x[xkey], r.metrics[m].shape) for r in runs])
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", RuntimeWarning)
                    x, y, sd = np.nanmean(xs, axis=0), np.nanmean(ys, axis=0), np.nanstd(ys, axis=0)
                series.append(Series(c.label, i, c.b, split, m, x, xlabel, y, sd, ys.shape[0]))
        if series:
            out.append((panel, series))
    return out


def curve_figure(title, configs, xchoice="auto"):
    """One panel per metric (curve_series): mean ± 1 sd over every curve of a configuration against
    x; one colour per configuration, its train series solid and its test series dashed. One legend:
    the configurations by colour, then train and test by line style."""
    panels = curve_series(configs, xchoice) or [("error", [])]
    fig, axes = plt.subplots(1, len(panels), figsize=(6.2 * len(panels) + 2.6, 4.6),
                             squeeze=False)
    bs = [c.b for c in configs]
    by_b = len(configs) > 1 and len(set(bs)) == len(configs) and all(np.isfinite(bs))
    cmap = plt.get_cmap("viridis")
    lo_b, hi_b = (min(bs), max(bs)) if by_b else (0.0, 1.0)

    def colour(i):
        return (cmap(0.9 * (configs[i].b - lo_b) / (hi_b - lo_b)) if by_b and hi_b > lo_b
                else f"C{i % 10}")
    handles, used, splits = [], set(), set()
    for ax, (panel, series) in zip(axes[0], panels):
        for s in series:
            col = colour(s.index)
            ax.plot(s.x, s.y, color=col, lw=1.4, ls=SPLIT_STYLE[s.split])
            if s.curves > 1:
                ax.fill_between(s.x, s.y - s.sd, s.y + s.sd, color=col, alpha=0.15, lw=0)
            used.add(s.index)
            if panel == "error" and s.split:
                splits.add(s.split)
        if panel == "nll":
            opt = bas_optimum(configs[0].runs[0].data)
            if opt is not None:
                handles.append(ax.axhline(opt, color="k", ls=":", lw=1,
                                          label=f"perfect model {opt:.1f} nats"))
        ax.set_xlabel(series[0].xlabel if series else "")
        ax.set_ylabel(PANEL_LABEL[panel])
        ax.grid(True, alpha=0.3)
    handles = [Line2D([], [], color=colour(i), lw=1.4,
                      label=f"{configs[i].label} ({configs[i].curves} "
                            f"curve{'' if configs[i].curves == 1 else 's'})")
               for i in sorted(used)] + handles
    handles += [Line2D([], [], color="k", lw=1.4, ls=SPLIT_STYLE[sp],
                       label={"train": "train error (training rows)",
                              "test": "test error (test rows)"}[sp])
                for sp in ("train", "test") if sp in splits]
    axes[0][-1].legend(handles=handles, fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    width = int(fig.get_size_inches()[0] * 11)         # characters of a 10-point line
    fig.suptitle("\n".join(textwrap.wrap(f"learning curves: {title} (mean ± 1 sd over learners × "
                                         "replicates)", width)), fontsize=10)
    return fig


def brobust_table_lines(g):
    lines = [f"| b | n seeds | learners | mean final {g.metric} | sd | {g.level:.0%} CI (t) |",
             "|---|---|---|---|---|---|"]
    for r in g.rows:
        lines.append(f"| {r.b:g} | {r.n} | {r.learners} | {_num(r.mean)} | {_num(r.sd, 3)} | "
                     f"{_ci(r.lo, r.hi)} |")
    return lines


def finding(g):
    """One line: best b, slope with its CI and the test, and the paper's direction."""
    best = g.best
    what = {"nll": "final NLL", "error": "final error"}[g.metric]
    s = g.slope
    text = f"{g.title}: {what} lowest at b = {best.b:g} ({_num(best.mean)}" + \
        (f", CI {_ci(best.lo, best.hi)})" if np.isfinite(best.lo) else ")") if best else \
        f"{g.title}: no finite {what}"
    text += (f"; slope of {g.metric} vs b = {_num(s.value, 4)}"
             + (f" ± {_num((s.hi - s.lo) / 2, 3)} ({g.level:.0%} CI {_ci(s.lo, s.hi, 4)}; "
                f"{s.test})" if np.isfinite(s.lo) else f" ({s.test})"))
    d = g.direction()
    if g.expected:
        side = "positive" if g.expected > 0 else "negative"
        verdict = {"supported": f"is supported at {g.level:.0%}",
                   "contradicted": f"is contradicted at {g.level:.0%} (the CI excludes 0 on the "
                                   "other side)",
                   "not resolved": f"is not supported at {g.level:.0%} (the CI contains 0)",
                   "no CI": "cannot be tested (no CI)"}[d]
        text += f"; the paper's direction ({g.paper}: slope {side}) {verdict}"
    elif d != "no CI":
        text += ("; no stated direction in the paper" + (
            f" (slope {'positive' if s.lo > 0 else 'negative'} at {g.level:.0%})"
            if (s.lo > 0 or s.hi < 0) else f" (CI contains 0 at {g.level:.0%})"))
    m = g.mirror
    if np.isfinite(m.value):
        text += (f"; mirror contrast D = mean over b < 0.5 of {g.metric}(b) − {g.metric}(1 − b) = "
                 f"{_num(m.value, 4)}" + (f" ({g.level:.0%} CI {_ci(m.lo, m.hi, 4)}; {m.test})"
                                          if np.isfinite(m.lo) else f" ({m.test})"))
        if g.expected and np.isfinite(m.lo):
            md = g.mirror_direction()
            text += (", by which the paper's direction is "
                     + {"supported": "supported", "contradicted": "contradicted",
                        "not resolved": "not supported (CI contains 0)"}[md])
    lo8 = [r.mean for r in g.rows if 0.2 - 1e-9 <= r.b <= 0.8 + 1e-9 and np.isfinite(r.mean)]
    if len(lo8) >= 2:
        text += f"; range of the means over b ∈ [0.2, 0.8]: {_num(max(lo8) - min(lo8), 4)}"
    return text + "."


def brobust_figure(bgroups):
    """One panel per b-group: final metric against b, replicate values and the t-intervals."""
    k = len(bgroups)
    fig, axes = plt.subplots(1, k, figsize=(5.6 * k, 4.6), squeeze=False)
    for ax, g in zip(axes[0], bgroups):
        b = np.array([r.b for r in g.rows])
        for r in g.rows:
            ax.plot(np.full(len(r.values), r.b), r.values, ".", color="gray", alpha=0.5, ms=5)
        mean = np.array([r.mean for r in g.rows])
        lo = np.array([r.lo for r in g.rows])
        hi = np.array([r.hi for r in g.rows])
        err = np.vstack([mean - lo, hi - mean])
        ax.errorbar(b, mean, yerr=np.where(np.isfinite(err), err, 0), fmt="o-", color="C0",
                    capsize=3, label=f"mean, {g.level:.0%} t-CI over seeds")
        best = g.best
        if best is not None:
            ax.plot([best.b], [best.mean], "*", color="C3", ms=14, label=f"best b = {best.b:g}")
        s = g.slope
        if np.isfinite(s.value):
            xb = np.linspace(b.min(), b.max(), 2)
            ax.plot(xb, np.nanmean(mean) + s.value * (xb - b.mean()), "--", color="C1",
                    label=f"slope {s.value:.3g}" + (f" [{s.lo:.3g}, {s.hi:.3g}]"
                                                    if np.isfinite(s.lo) else ""))
        ax.set_xlabel("b (probability of a positive phase)")
        ax.set_ylabel(f"final {METRIC_LABEL[g.metric]}\n(mean over the last "
                      f"{g.window:.0%} of the run)")
        ax.set_title("\n".join(textwrap.wrap(g.title, 70))
                     + (f"\npaper: {g.paper} — slope: {g.direction()}, mirror contrast: "
                        f"{g.mirror_direction()}" if g.paper else ""), fontsize=8)
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=7)
    fig.suptitle("b-robustness: final metric against b", fontsize=10)
    return fig


# --------------------------------------------------------------------------------------------------
# The report (shared by the CLI and analysis/theorems.py)
# --------------------------------------------------------------------------------------------------

EXPLAIN_CURVES = """\
One figure per (model, estimator, data set). The `error` panel draws per configuration the train error
(solid) and, where the points have a test set, the test error (dashed). Train error: the RBM with label
units, the fraction of the training rows — all rows kept by data.max_rows — whose label is not the
argmax over the 10 one-hot label configurations of the exact posterior p(y | pixels) ∝ exp(a_y) Π_j (1 +
exp(c_j + W_j·x + W_jy)) (no Gibbs sampling); eqprop (any estimator, tcl included), the fraction of the
first run.eval_rows training rows misclassified after model.eval_steps free relaxation steps
(`curve/error`); supervised learners, 1 − accuracy on the first run.eval_rows training rows
(`curve/train_acc`). Test error: the same on the first run.eval_rows rows of data.test_images for the RBM
and eqprop (`curve/test_error`), 1 − accuracy on every test row for supervised learners
(`curve/test_acc`). The `nll` panel: the exact summed NLL of the training rows (RBMs with n_h ≤ 24). One
colour per configuration: the mean over every curve of its replicates and learners, band ± 1 sd over
those curves. The table gives the final value of each metric (`train_error`, `test_error`, `nll`) —
the mean over the last {window:.0%} of each run's curve points, averaged over learners — with a
{level:.0%} t-interval over replicates."""

EXPLAIN_B = """\
Points that differ only in b (and replicate): the final metric (error with label units, else the exact
NLL; the mean over the last {window:.0%} of the run's curve points and over the point's learners) per b,
with its {level:.0%} t-interval over the replicates (seeds); each replicate is one grid point, so n seeds is
the number of replicates. Slope: each replicate's OLS slope of the final metric over its b values, then
a t-interval over replicates (with one replicate: OLS over points with residual SE). Mirror contrast D:
per replicate the mean over b < ½ of metric(b) − metric(1 − b), then a t-interval over replicates. The
paper (Williams et al. 2023) reports higher b better on bMNIST and lower b better on BAS: the direction is
supported when the CI of the slope excludes 0 on the paper's side (a positive slope of the NLL on BAS; a
negative slope of the error on image data with label units), likewise for D with the opposite sign.
Findings, not theorem checks: no verdict."""


def report(runs, xchoice="auto", window=WINDOW, level=LEVEL):
    """(curve sections, b-groups): [(title, configs, table lines, figure)], [BGroup]. Points without
    a finite metric (an RBM with n_h > 24 and no labels) are left out."""
    runs = [r for r in runs if r.metrics]
    curves = []
    for title, configs in curve_groups(runs):
        curves.append((title, configs, config_table_lines(configs, window, level),
                       curve_figure(title, configs, xchoice)))
    return curves, b_groups(runs, window, level)


def main(argv=None):
    ap = argparse.ArgumentParser(prog=PROG, description="Learning curves and b-robustness from "
                                 "flexcl results files (train points).")
    ap.add_argument("results", nargs="+", help="results files (HDF5)")
    ap.add_argument("--out", required=True, help="directory for the figures and curves.md")
    ap.add_argument("--x", choices=X_AXES, default="auto",
                    help="x axis (default auto: phases for RBMs, epochs for supervised learners)")
    ap.add_argument("--window", type=float, default=WINDOW,
                    help=f"final window as a fraction of the run's steps (default {WINDOW}; "
                    "0 = last curve point)")
    ap.add_argument("--level", type=float, default=LEVEL,
                    help=f"confidence level (default {LEVEL})")
    args = ap.parse_args(argv)
    if not 0 <= args.window < 1:
        print(f"{PROG}: --window must be in [0, 1), got {args.window:g}", file=sys.stderr)
        return 2
    if not 0 < args.level < 1:
        print(f"{PROG}: --level must be in (0, 1), got {args.level:g}", file=sys.stderr)
        return 2
    try:
        runs = [r for path in args.results for r in read_file(path)]
        if not runs:
            raise CurveError(f"{', '.join(args.results)}: no train points")
        runs, dups = drop_duplicates(runs)
        try:
            os.makedirs(args.out, exist_ok=True)
        except OSError as e:
            raise CurveError(f"{args.out}: cannot create directory ({_first_line(e)})")
    except CurveError as e:
        print(f"{PROG}: {e}", file=sys.stderr)
        return 2
    curves, bgroups = report(runs, args.x, args.window, args.level)
    md = ["# Learning curves and b-robustness", "",
          "Files: " + ", ".join(f"`{p}`" for p in args.results), ""]
    if dups:
        md += [f"Note: {dups} duplicate point(s) (same job and index) ignored.", ""]
    md += ["## Learning curves per model and estimator", "",
           EXPLAIN_CURVES.format(window=args.window, level=args.level), ""]
    for gi, (title, configs, lines, fig) in enumerate(curves, start=1):
        name = f"curves_{gi}.png"
        fig.tight_layout()
        fig.savefig(os.path.join(args.out, name), dpi=120)
        plt.close(fig)
        print(f"curves {gi}: {title}")
        print("\n".join(lines))
        md += [f"### {gi}. {title}", ""] + lines + ["", f"![{title}]({name})", ""]
    if bgroups:
        md += ["## b-robustness (SPEC §6.4; findings, no verdict)", "",
               EXPLAIN_B.format(window=args.window, level=args.level), ""]
        for g in bgroups:
            lines = brobust_table_lines(g)
            line = finding(g)
            print(f"b-robustness: {g.title}")
            print("\n".join(lines))
            print(f"finding: {line}")
            md += [f"### {g.title}", ""] + lines + ["", f"**Finding.** {line}", ""]
        fig = brobust_figure(bgroups)
        fig.tight_layout()
        fig.savefig(os.path.join(args.out, "brobust.png"), dpi=120)
        plt.close(fig)
        md += ["![b-robustness](brobust.png)", ""]
    with open(os.path.join(args.out, "curves.md"), "w", encoding="utf-8") as fh:
        fh.write("\n".join(md) + "\n")
    print(f"{len(runs)} train points, {len(curves)} curve figure(s), {len(bgroups)} b-group(s); "
          f"figures and curves.md in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
