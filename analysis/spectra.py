#!/usr/bin/python3
"""Gradient-noise spectra against b (SPEC §6.5) from the groups `flexcl spectrum` writes.

Usage:  spectra.py RESULTS.h5 [RESULTS2.h5 ...] --out DIR [--leading K]

For every isd_variance grid point whose group holds `spectrum/eigenvalues` (the eigenvalues, descending,
of the P×P sample covariance of the M raw samples `samples/ghat`; docs/spectrum.md), points are grouped
by every attribute except b (as analysis/theorems.py groups them for check 2) and each group gets one
figure DIR/spectra_<g>.png with three panels against b:

  - the K leading eigenvalues λ₁ … λ_K of Cov ĝ (log scale), with the trace tr C (the check-2 quantity
    estimated from the same raw samples) for reference;
  - the effective rank, the participation ratio PR = (Σλ)² / Σλ² (1 when one direction carries all
    the noise, P when it is isotropic);
  - the whole spectrum λ_i / tr C against i (log–log), one line per b.

Prints one table row per point and writes DIR/spectra.md with the same table. Exit status 0; 2 with one
line on stderr when a file cannot be read or holds no spectra. analysis/theorems.py imports this module
and puts the same table and figures into its report (section "Gradient-noise spectra").
"""
from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass, field

import h5py
import numpy as np

import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import open_results  # noqa: E402  (analysis/common.py)

PROG = "spectra.py"
LEADING = 5                      # eigenvalues drawn and tabulated per point
NOT_GROUPING = {"index", "samples", "S_pos", "S_neg", "b", "estimator.b", "seed"}


class SpectrumError(Exception):
    """A file or spectrum group that cannot be read; the message is one line."""


def _scalar(value):
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, np.ndarray) and value.shape in ((), (1,)):
        value = value.reshape(-1)[0]
    if isinstance(value, np.generic):
        return value.item()
    return value


def _first_line(exc):
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


@dataclass
class Spectrum:
    """The spectrum group of one grid point, with what the figures and tables need."""
    file: str
    point: str                   # e.g. /points/000003
    attrs: dict                  # the point's attributes
    eigenvalues: np.ndarray      # descending
    samples: int                 # M
    parameters: int              # P
    trace: float                 # attribute trace (sum of the eigenvalues)
    participation_ratio: float   # attribute participation_ratio
    ranks: int
    grid: str
    vectors: int
    seconds: float
    moments_count: int = 0       # count of moments/ghat (N), 0 when absent
    moments_trace: float = float("nan")   # Σ m2 / (count − 1) of moments/ghat
    extra: dict = field(default_factory=dict)

    @property
    def b(self):
        return float(self.attrs.get("b", float("nan")))

    @property
    def index(self):
        return int(self.attrs.get("index", int(self.point[-6:])))

    def leading(self, k):
        """The k leading eigenvalues, NaN-padded when P < k."""
        out = np.full(k, np.nan)
        n = min(k, self.eigenvalues.size)
        out[:n] = self.eigenvalues[:n]
        return out


def participation_ratio(lam):
    """(Σλ)² / Σλ²: the effective number of directions that carry the noise (0 for a zero matrix)."""
    lam = np.asarray(lam, dtype=float)
    sq = float(np.sum(lam * lam))
    return float(np.sum(lam)) ** 2 / sq if sq > 0 else 0.0


def read_point(f, point, path="?"):
    """The Spectrum of group `point` of the open h5py file f, or None when it has no spectrum."""
    name = f"{point}/spectrum"
    if name not in f:
        return None
    try:
        g = f[name]
        lam = np.asarray(g["eigenvalues"][...], dtype=float)
        a = {k: _scalar(v) for k, v in g.attrs.items()}
        attrs = {k: _scalar(v) for k, v in f[point].attrs.items()}
        s = Spectrum(path, point, attrs, lam, int(a["samples"]), int(a["parameters"]),
                     float(a["trace"]), float(a["participation_ratio"]), int(a.get("ranks", 0)),
                     str(a.get("grid", "?")), int(a.get("vectors", 0)),
                     float(a.get("seconds", float("nan"))),
                     extra={k: v for k, v in a.items() if k in ("solver", "block", "time",
                                                                 "command_line", "git_describe")})
        mom = f"{point}/moments/ghat"
        if mom in f:
            count = int(_scalar(f[mom].attrs["count"]))
            s.moments_count = count
            if count > 1:
                s.moments_trace = float(np.sum(f[f"{mom}/m2"][...]) / (count - 1))
    except (KeyError, OSError, ValueError, TypeError) as e:
        raise SpectrumError(f"{path}: cannot read {name} ({_first_line(e)})")
    if lam.ndim != 1 or lam.size != s.parameters:
        raise SpectrumError(f"{path}: {name}/eigenvalues has shape {lam.shape}, expected "
                            f"({s.parameters},)")
    return s


def read_file(path):
    """Every Spectrum of a results file, in grid-point order."""
    with open_results(path, SpectrumError) as f:
        out = []
        for name in sorted(f["points"]):
            s = read_point(f, f"/points/{name}", path)
            if s is not None:
                out.append(s)
    return out


def group_spectra(spectra):
    """{label: [Spectrum sorted by b]}: one group per file, θ₀ and every point attribute but b."""
    groups = {}
    for s in spectra:
        key = (s.file,) + tuple(sorted((k, str(v)) for k, v in s.attrs.items()
                                       if k not in NOT_GROUPING))
        groups.setdefault(key, []).append(s)
    keys = list(groups)
    varying = sorted({k for key in keys for k, _ in key[1:]
                      if len({dict(kk[1:]).get(k) for kk in keys}) > 1})
    files = {k[0] for k in keys}
    out = {}
    for key in keys:
        d = dict(key[1:])
        parts = ([os.path.basename(key[0])] if len(files) > 1 else [])
        parts += [f"{k}={d[k]}" for k in varying if k in d]
        label = ", ".join(parts) or "all points"
        while label in out:
            label += "'"
        out[label] = sorted(groups[key], key=lambda s: (s.b, s.index))
    return out


def table_lines(spectra, leading=LEADING):
    """Markdown table: one row per point."""
    lam_cols = " | ".join(f"λ{i + 1}" for i in range(leading))
    lines = [f"| point | b | P | M | {lam_cols} | tr C | Σ var (moments) | PR | ranks (grid) | s |",
             "|---|---|---|---|" + "---|" * leading + "---|---|---|---|---|"]
    for s in spectra:
        lam = " | ".join("-" if not np.isfinite(v) else f"{v:.5g}" for v in s.leading(leading))
        mom = "-" if not np.isfinite(s.moments_trace) else (
            f"{s.moments_trace:.6g}" + ("" if s.moments_count == s.samples else
                                       f" (N = {s.moments_count})"))
        lines.append(f"| {s.point} | {s.b:g} | {s.parameters} | {s.samples} | {lam} | "
                     f"{s.trace:.6g} | {mom} | {s.participation_ratio:.3f} | {s.ranks} ({s.grid}) | "
                     f"{s.seconds:.3g} |")
    return lines


def figure(spectra, title, leading=LEADING):
    """The three-panel figure of one group against b; returns the matplotlib Figure."""
    b = np.array([s.b for s in spectra])
    lead = np.array([s.leading(leading) for s in spectra])
    fig, axes = plt.subplots(1, 3, figsize=(14.5, 4.6))
    ax = axes[0]
    for k in range(leading):
        if np.isfinite(lead[:, k]).any():
            ax.plot(b, lead[:, k], marker="o", color=f"C{k}", label=f"λ{k + 1}")
    ax.plot(b, [s.trace for s in spectra], color="gray", ls="--", marker="s", ms=4,
            label="tr C (total variance)")
    ax.set_yscale("log")
    ax.set_xlabel("b (probability of a positive phase)")
    ax.set_ylabel("eigenvalue of Cov ĝ")
    ax.set_title("leading eigenvalues", fontsize=10)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)

    ax = axes[1]
    ax.plot(b, [s.participation_ratio for s in spectra], marker="o", color="C0")
    ax.set_xlabel("b (probability of a positive phase)")
    ax.set_ylabel("participation ratio (Σλ)² / Σλ²")
    ax.set_title("effective rank", fontsize=10)
    ax.grid(True, alpha=0.3)
    ax.set_ylim(0, 1.15 * max([s.participation_ratio for s in spectra] + [1.0]))

    ax = axes[2]
    cmap = plt.get_cmap("viridis")
    lo, hi = (np.nanmin(b), np.nanmax(b)) if np.isfinite(b).any() else (0.0, 1.0)
    for s in spectra:
        lam = s.eigenvalues
        keep = lam > max(lam[0], 0.0) * 1e-12 if lam.size else lam > 0
        if not keep.any() or s.trace <= 0:
            continue
        c = cmap(0.5 if hi <= lo or not np.isfinite(s.b) else (s.b - lo) / (hi - lo))
        ax.plot(np.arange(1, keep.sum() + 1), lam[keep] / s.trace, color=c, label=f"b={s.b:g}")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("index i")
    ax.set_ylabel("λ_i / tr C")
    ax.set_title("spectrum (λ > 10⁻¹² λ₁)", fontsize=10)
    ax.grid(True, which="both", alpha=0.3)
    if len(spectra) <= 12:
        ax.legend(fontsize=7, ncol=2)
    fig.suptitle(f"gradient-noise spectra vs b — {title}", fontsize=10)
    return fig


def consistency(s):
    """Self-checks of one spectrum: |Σλ − trace| and |PR(λ) − PR| relative; |trace − Σ var| relative
    when every sample was kept raw (M = N), else NaN."""
    lam_sum = float(np.sum(s.eigenvalues))
    scale = max(abs(s.trace), np.finfo(float).tiny)
    d_trace = abs(lam_sum - s.trace) / scale
    d_pr = abs(participation_ratio(s.eigenvalues) - s.participation_ratio) / max(
        s.participation_ratio, np.finfo(float).tiny)
    d_mom = (abs(s.trace - s.moments_trace) / scale
             if s.moments_count == s.samples and np.isfinite(s.moments_trace) else float("nan"))
    return d_trace, d_pr, d_mom


def main(argv=None):
    ap = argparse.ArgumentParser(prog=PROG, description="Gradient-noise spectra against b from "
                                 "flexcl results files (after `flexcl spectrum`).")
    ap.add_argument("results", nargs="+", help="results files (HDF5)")
    ap.add_argument("--out", required=True, help="directory for spectra_<g>.png and spectra.md")
    ap.add_argument("--leading", type=int, default=LEADING,
                    help=f"leading eigenvalues drawn and tabulated (default {LEADING})")
    args = ap.parse_args(argv)
    if args.leading < 1:
        print(f"{PROG}: --leading must be at least 1, got {args.leading}", file=sys.stderr)
        return 2
    try:
        spectra = [s for path in args.results for s in read_file(path)]
        if not spectra:
            raise SpectrumError(f"{', '.join(args.results)}: no grid point has a spectrum (run "
                                "`flexcl spectrum RESULTS.h5 --all` first)")
        try:
            os.makedirs(args.out, exist_ok=True)
        except OSError as e:
            raise SpectrumError(f"{args.out}: cannot create directory ({_first_line(e)})")
    except SpectrumError as e:
        print(f"{PROG}: {e}", file=sys.stderr)
        return 2
    md = ["# Gradient-noise spectra against b", ""]
    for gi, (label, group) in enumerate(group_spectra(spectra).items(), start=1):
        name = f"spectra_{gi}.png"
        fig = figure(group, label, args.leading)
        fig.tight_layout()
        fig.savefig(os.path.join(args.out, name), dpi=120)
        plt.close(fig)
        lines = table_lines(group, args.leading)
        print(f"group {gi}: {label}")
        print("\n".join(lines))
        md += [f"## Group {gi}: {label}", ""] + lines + ["", f"![{label}]({name})", ""]
    with open(os.path.join(args.out, "spectra.md"), "w", encoding="utf-8") as fh:
        fh.write("\n".join(md) + "\n")
    print(f"{len(spectra)} spectra; figures and spectra.md in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
