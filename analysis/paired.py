#!/usr/bin/python3
"""Paired comparisons of final test accuracy against a baseline, over replicates (seeds).

Usage:  paired.py RESULTS.h5 [RESULTS2.h5 ...] --baseline ATTR=VALUE [--margin POINTS]
                  [--level 0.95] [--out FILE.md]

For supervised train points (ff, dp, dpt, backprop; docs/schema.md) of one or more results files,
typically a job with `run.streams = replicate` and `run.replicates = n` (jobs/dualprop_seeds.ini,
jobs/ff_isd_compare.ini): the points whose attribute ATTR equals VALUE (e.g. `model=backprop`,
`estimator=two_term`) are the baseline; every other configuration (the points that differ only in
replicate) is compared with it replicate by replicate. Under `run.streams = replicate` the points of
one replicate share initialisation and data order, so the difference is paired and its spread over
replicates is the spread of the comparison itself (not of either accuracy alone).

Per configuration: n pairs, its mean final test accuracy, the mean paired difference d (points,
configuration − baseline) and its t-interval mean ± t_{n−1} sd/√n at --level (default 0.95). With
--margin m (points): `within` when |mean d| ≤ m; `equivalent` when the whole interval lies inside
[−m, m] (a two one-sided tests equivalence at (1 − level)/2 per side); `not equivalent` when the
interval reaches outside it; `differs` when it lies wholly outside. These are findings, not theorem
checks.

Final test accuracy of a point: 1 − the last value of its `curve/error` (mean over its learners).
Exit status 0; 2 with one line on stderr when a file cannot be read, no baseline point matches, a
baseline replicate is missing for some pair, or ATTR=VALUE is malformed.
"""
from __future__ import annotations

import argparse
import math
import sys

import numpy as np

import curves
from common import _first_line  # noqa: F401  (analysis/common.py)

PROG = "paired.py"


class PairedError(Exception):
    """One-line error for the user."""


def final_accuracy(run):
    """1 − the last point of curve/error, averaged over the point's learners (NaN if absent)."""
    if "error" not in run.metrics:
        return math.nan
    return float(1.0 - np.nanmean(run.metrics["error"][:, -1]))


def _matches(run, attr, value):
    v = run.attrs.get(attr)
    if v is None:
        return False
    return curves._fmt(v) == value or str(v) == value


def compare(runs, attr, value, level=curves.LEVEL, margin=None):
    """[(label, n, mean accuracy, (n, mean d, sd, lo, hi) in points, verdict)] and the baseline's
    (label, n, mean accuracy)."""
    runs = [r for r in runs if r.supervised and "error" in r.metrics]
    if not runs:
        raise PairedError("no supervised train points with a test-error curve")
    base = [r for r in runs if _matches(r, attr, value)]
    if not base:
        seen = sorted({curves._fmt(r.attrs.get(attr, "?")) for r in runs})
        raise PairedError(f"no point has {attr}={value} (values present: {', '.join(seen)})")
    by_rep = {}
    for r in base:
        if r.replicate in by_rep:
            raise PairedError(f"two baseline points for replicate {r.replicate} "
                              f"({by_rep[r.replicate].point}, {r.point}): narrow --baseline")
        by_rep[r.replicate] = r
    others = [r for r in runs if not _matches(r, attr, value)]
    groups = {}
    for r in others:
        groups.setdefault(curves.config_key(r), []).append(r)
    vary = curves.varying_names(list(groups)) if len(groups) > 1 else []
    rows = []
    for key, rs in groups.items():
        d = dict(key)
        label = ", ".join(f"{n}={d[n]}" for n in vary if n in d) or \
            ", ".join(f"{n}={d[n]}" for n in ("model", "estimator") if n in d)
        diffs, accs = [], []
        for r in sorted(rs, key=lambda r: r.replicate):
            if r.replicate not in by_rep:
                raise PairedError(f"{r.file}: {r.point} (replicate {r.replicate}) has no baseline "
                                  f"point with {attr}={value} of the same replicate")
            a, b = final_accuracy(r), final_accuracy(by_rep[r.replicate])
            accs.append(a)
            diffs.append(100.0 * (a - b))
        ti = curves.t_interval(diffs, level)
        verdict = ""
        if margin is not None:
            n, m, _, lo, hi = ti
            verdict = "within" if abs(m) <= margin else "outside"
            if n >= 2:
                if -margin <= lo and hi <= margin:
                    verdict += ", equivalent"
                elif hi < -margin or lo > margin:
                    verdict += ", differs"
                else:
                    verdict += ", not equivalent"
        rows.append((label, len(rs), float(np.mean(accs)), ti, verdict))
    rows.sort(key=lambda x: x[0])
    bacc = [final_accuracy(r) for r in base]
    return rows, (f"{attr}={value}", len(base), float(np.mean(bacc)))


def table(rows, baseline, level, margin):
    pct = int(round(level * 100))
    head = ["| configuration | n | mean test accuracy | mean Δ to baseline (points) | "
            f"{pct} % t-interval | sd of Δ |" + (" verdict |" if margin is not None else ""),
            "|---|---|---|---|---|---|" + ("---|" if margin is not None else "")]
    out = [f"Baseline {baseline[0]}: {baseline[1]} point(s), mean test accuracy {baseline[2]:.4f}."
           + (f" Margin ±{margin:g} points." if margin is not None else ""), ""] + head
    for label, n, acc, (k, m, sd, lo, hi), verdict in rows:
        ci = f"[{lo:+.2f}, {hi:+.2f}]" if k >= 2 else "— (one pair)"
        sds = f"{sd:.2f}" if k >= 2 else "—"
        out.append(f"| {label} | {n} | {acc:.4f} | {m:+.2f} | {ci} | {sds} |"
                   + (f" {verdict} |" if margin is not None else ""))
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(prog=PROG, description="Paired final-accuracy differences to a "
                                 "baseline over replicates (flexcl results, supervised points).")
    ap.add_argument("results", nargs="+", help="results files (HDF5)")
    ap.add_argument("--baseline", required=True, metavar="ATTR=VALUE",
                    help="point attribute selecting the baseline, e.g. model=backprop")
    ap.add_argument("--margin", type=float, default=None, help="equivalence margin in points")
    ap.add_argument("--level", type=float, default=curves.LEVEL, help="confidence level")
    ap.add_argument("--out", default=None, help="also write the table to this markdown file")
    args = ap.parse_args(argv)
    if "=" not in args.baseline or args.baseline.startswith("="):
        print(f"{PROG}: --baseline needs ATTR=VALUE, got '{args.baseline}'", file=sys.stderr)
        return 2
    if not 0 < args.level < 1:
        print(f"{PROG}: --level must be in (0, 1), got {args.level:g}", file=sys.stderr)
        return 2
    if args.margin is not None and not args.margin > 0:
        print(f"{PROG}: --margin must be positive, got {args.margin:g}", file=sys.stderr)
        return 2
    attr, value = args.baseline.split("=", 1)
    try:
        runs = [r for path in args.results for r in curves.read_file(path)]
        runs, _ = curves.drop_duplicates(runs)
        rows, baseline = compare(runs, attr, value, args.level, args.margin)
    except (curves.CurveError, PairedError) as e:
        print(f"{PROG}: {e}", file=sys.stderr)
        return 2
    lines = table(rows, baseline, args.level, args.margin)
    print("\n".join(lines))
    if args.out:
        try:
            with open(args.out, "w", encoding="utf-8") as fh:
                fh.write("\n".join(lines) + "\n")
        except OSError as e:
            print(f"{PROG}: {args.out}: cannot write ({_first_line(e)})", file=sys.stderr)
            return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
