#!/usr/bin/python3
"""Temporal contrastive learning, one synapse: figures and a table from `tcl_synapse` points.

Usage:  tcl.py RESULTS.h5 [RESULTS2.h5 ...] [--out DIR]

Reads every grid point with experiment = tcl_synapse (docs/schema.md, `tcl/*`) and writes into DIR
(default: the first file's directory):

  - tcl_dw.png     Δw per cycle against the amplitude A (log–log), one panel per τ_f/τ_K, one curve per
                   τ_s/τ_f, with the contrastive prediction τ_K·A and the predicted window edges
                   θ_g τ_f/τ_K and θ_g τ_s/τ_K;
  - tcl_range.png  the learning range A_max/A_min against τ_s/τ_f (log–log), one curve per τ_f/τ_K, with
                   the bound A_max/A_min = τ_s/τ_f drawn (Falk et al. 2025, Fig. 4C); a point without a
                   window (the law fails at every amplitude) is drawn at range 1, hollow;
  - tcl_trace.png  s(t) and u(t) over one cycle for the point with the largest τ_s/τ_f, with ±θ_g;
  - tcl.md         the table below.

Prints one row per point: τ_f/τ_K, τ_s/τ_f, predicted and measured window, range and its bound, and
whether range ≤ bound (the verdict; exit status 1 if any point exceeds its bound by more than the
bisection precision 1e-6). Exit status 2 with one line on stderr when a file cannot be read or holds no
tcl_synapse point. Other code (the report) may import `read_file`, `table_lines`, `figure_dw`,
`figure_range` and `figure_trace`.
"""
from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass

import h5py
import numpy as np

import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

PROG = "tcl.py"
PRECISION = 1e-6  # relative precision of the bisected window edges


class TclError(Exception):
    pass


@dataclass
class Synapse:
    point: int
    attrs: dict
    amplitude: np.ndarray
    dw: np.ndarray
    dw_ideal: np.ndarray
    linear: np.ndarray
    trace: dict

    def a(self, name):
        return float(self.attrs[name])

    @property
    def ratio(self):
        return self.a("tau_slow") / self.a("tau_fast")

    @property
    def fast_over_kernel(self):
        return self.a("tau_fast") / self.a("tau_kernel")

    @property
    def range(self):
        r = self.a("range")
        return r if np.isfinite(r) else np.nan

    @property
    def within_bound(self):
        r = self.range
        return (not np.isfinite(r)) or r <= self.ratio * (1 + 2 * PRECISION)


def read_file(path):
    """The tcl_synapse points of one results file, in point order."""
    out = []
    try:
        with h5py.File(path, "r") as f:
            if "points" not in f:
                raise TclError(f"{path}: no /points group (not a flexcl results file?)")
            for name in sorted(f["points"]):
                g = f["points"][name]
                exp = g.attrs.get("experiment", b"")
                exp = exp.decode() if isinstance(exp, bytes) else str(exp)
                if exp != "tcl_synapse":
                    continue
                t = g["tcl"]
                attrs = {k: (v.decode() if isinstance(v, bytes) else v) for k, v in t.attrs.items()}
                trace = {k: np.asarray(t["trace"][k]) for k in ("t", "r", "s", "u")}
                out.append(Synapse(int(g.attrs["index"]), attrs, np.asarray(t["amplitude"]),
                                   np.asarray(t["dw"]), np.asarray(t["dw_ideal"]),
                                   np.asarray(t["linear"]).astype(bool), trace))
    except (OSError, KeyError) as exc:
        raise TclError(f"{path}: {str(exc).splitlines()[0]}") from exc
    return out


def table_lines(points):
    """Markdown table, one row per point."""
    rows = ["| point | τ_f/τ_K | τ_s/τ_f | predicted window | onset | measured window | "
            "A_max/A_min | bound τ_s/τ_f | ≤ bound |",
            "|---|---|---|---|---|---|---|---|---|"]
    for s in points:
        rng = s.range
        win = (f"[{s.a('A_min'):.4g}, {s.a('A_max'):.4g}]" if np.isfinite(rng) else "none")
        rows.append(f"| {s.point} | {s.fast_over_kernel:g} | {s.ratio:g} | "
                    f"[{s.a('A_min_pred'):.4g}, {s.a('A_max_pred'):.4g}] | {s.a('A_onset'):.6g} | "
                    f"{win} | {rng:.4g} | {s.ratio:g} | {'yes' if s.within_bound else 'NO'} |")
    return rows


def _by_fast(points):
    groups = {}
    for s in points:
        groups.setdefault(round(s.fast_over_kernel, 9), []).append(s)
    return dict(sorted(groups.items()))


def figure_dw(points):
    """Δw per cycle against A, one panel per τ_f/τ_K."""
    groups = _by_fast(points)
    fig, axes = plt.subplots(1, len(groups), figsize=(4.6 * len(groups), 4.0), squeeze=False)
    for ax, (fk, pts) in zip(axes[0], groups.items()):
        cmap = plt.get_cmap("viridis")
        for k, s in enumerate(sorted(pts, key=lambda p: p.ratio)):
            c = cmap(k / max(1, len(pts) - 1))
            dw = np.where(s.dw > 0, s.dw, np.nan)
            ax.loglog(s.amplitude, dw, "-", color=c, lw=1.2, label=f"τ_s/τ_f = {s.ratio:g}")
            ax.axvline(s.a("A_max_pred"), color=c, lw=0.6, ls=":")
        s0 = pts[0]
        ax.loglog(s0.amplitude, s0.dw_ideal, "k--", lw=0.8, label="τ_K·A (contrastive)")
        ax.axvline(s0.a("A_min_pred"), color="k", lw=0.8, ls=":", label="θ_g τ_f/τ_K, θ_g τ_s/τ_K")
        ax.set_ylim(bottom=1e-3 * float(np.min(s0.dw_ideal)))
        ax.set_title(f"τ_f/τ_K = {fk:g}")
        ax.set_xlabel("amplitude A = s_clamped − s_free")
        ax.set_ylabel("Δw per cycle")
        ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def figure_range(points):
    """A_max/A_min against τ_s/τ_f with the bound."""
    fig, ax = plt.subplots(figsize=(5.0, 4.2))
    ratios = sorted({s.ratio for s in points})
    ax.loglog(ratios, ratios, "k--", lw=1.0, label="bound τ_s/τ_f")
    for fk, pts in _by_fast(points).items():
        pts = sorted(pts, key=lambda p: p.ratio)
        x = np.array([p.ratio for p in pts])
        y = np.array([p.range for p in pts])
        line, = ax.loglog(x, np.where(np.isfinite(y), y, np.nan), "o-", label=f"τ_f/τ_K = {fk:g}")
        miss = ~np.isfinite(y)
        if miss.any():
            ax.loglog(x[miss], np.ones(miss.sum()), "o", mfc="none", color=line.get_color())
    ax.set_xlabel("τ_s/τ_f")
    ax.set_ylabel("learning range A_max/A_min")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def figure_trace(s):
    """s and u over one cycle of point s."""
    fig, ax = plt.subplots(2, 1, figsize=(6.0, 4.2), sharex=True)
    tr = s.trace
    ax[0].plot(tr["t"], tr["s"], lw=1.0)
    ax[0].set_ylabel("s(t)")
    ax[0].set_title(f"one cycle at A = {s.a('trace_amplitude'):.3g} "
                    f"(τ_f = {s.a('tau_fast'):g}, τ_s = {s.a('tau_slow'):g}, τ_K = {s.a('tau_kernel'):g})")
    ax[1].plot(tr["t"], tr["u"], lw=1.0)
    th = s.a("threshold")
    for y in (th, -th):
        ax[1].axhline(y, color="r", lw=0.7, ls="--")
    ax[1].set_ylabel("u = K * s  (±θ_g dashed)")
    ax[1].set_xlabel("t")
    fig.tight_layout()
    return fig


def main(argv=None):
    ap = argparse.ArgumentParser(prog=PROG, description="TCL single-synapse figures and table")
    ap.add_argument("files", nargs="+")
    ap.add_argument("--out", default=None, help="output directory (default: the first file's)")
    a = ap.parse_args(argv)
    try:
        points = [p for path in a.files for p in read_file(path)]
        if not points:
            raise TclError(f"{a.files[0]}: no tcl_synapse grid point")
    except TclError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    out = a.out or (os.path.dirname(os.path.abspath(a.files[0])))
    os.makedirs(out, exist_ok=True)
    lines = table_lines(points)
    print("\n".join(lines))
    with open(os.path.join(out, "tcl.md"), "w", encoding="utf-8") as f:
        f.write("# TCL single synapse: learning window and range\n\n" + "\n".join(lines) + "\n")
    for name, fig in (("tcl_dw.png", figure_dw(points)), ("tcl_range.png", figure_range(points)),
                      ("tcl_trace.png", figure_trace(max(points, key=lambda p: (p.ratio,
                                                                               p.fast_over_kernel))))):
        fig.savefig(os.path.join(out, name), dpi=120)
        plt.close(fig)
    bad = [s.point for s in points if not s.within_bound]
    if bad:
        print(f"{PROG}: range exceeds its bound τ_s/τ_f at points {bad}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
