#!/usr/bin/python3
"""Write a synthetic flexcl results file (docs/schema.md, schema version 2) whose truth is known.

Usage:  make_synthetic.py OUT.h5 [--seed 1] [--biased] [--mislabel] [--drift-slope 2]
                            [--schema-version 2]

Contents (P = 24 parameters, N = 20000 samples per point, M = 1000 raw samples):
- isd_variance, subgrid "isd": b = 0.1 … 0.9, importance weights. G± = μ± + A± ε + σ± ε' (Gaussian,
  correlated through the rank-3 factors A±), ĝ = w_z G_z with z ~ Bernoulli(b). S⁻/S⁺ is chosen so
  that b* = √S⁺/(√S⁺+√S⁻) = 0.42; g = μ⁺ − μ⁻ is stored as exact_gradient.
- with --biased, isd_variance subgrid "control": b = 0.3 with weights = swapped (w₁ = 1/(1−b),
  w₀ = −1/b), the negative control of jobs/examples/biased.ini, which must fail check 1.
  With --mislabel, the b = 0.3 point of the "isd" subgrid is generated with swapped weights but
  labelled importance (a simulated weighting bug).
- aol_bias, subgrid "aol": η ∈ {0.0005 … 0.02} × τ ∈ {20 … 500}, b = 0.5, geometric law. Per phase:
  equilibrium e ~ N(g, Σ_e); transient t ~ N((5/τ)u, Σ_t); drift d ~ N(100 η_max² (η/η_max)^s v, η² Σ_d)
  with s = --drift-slope (SPEC: 2); frozen = e + t; delta = e + t + d/η. The smallest η is below twice
  the drift noise floor, the largest τ below twice the transient floor (tests the exclusion).
- train, subgrid "train": one isd point with 4 learners and a decreasing NLL curve.

write_brobust() writes a file of train points only for analysis/curves.py (the b-robustness finding):
b = 0.1 … 0.9 × R replicates, L learners each, whose final metric is known (see its docstring), and
write_supervised() a file of supervised-learner points (no nll; epoch, train/test accuracy), and
write_registry() eqprop (two_term, tcl) and labelled rbm points with curve/error and curve/test_error.
"""
from __future__ import annotations

import argparse
import sys

import h5py
import numpy as np

P, N, M = 24, 20000, 1000
B_GRID = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]
ETA_GRID = [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02]
TAU_GRID = [20.0, 50.0, 100.0, 200.0, 500.0]
BSTAR = 0.42
DRIFT_C, TRANSIENT_C = 100.0, 5.0
AXES = "estimator.weights,estimator.b,estimator.eta,estimator.tau"
DS = dict(compression="gzip", shuffle=True)


class Writer:
    def __init__(self, f, seed):
        self.f, self.seed = f, seed
        self.index = []   # (point, eta, tau, b, replicate, experiment)

    def dataset(self, name, data, dtype=None):
        data = np.asarray(data, dtype=dtype)
        kw = dict(DS, chunks=True) if data.ndim else {}
        self.f.create_dataset(name, data=data, **kw)

    def moments(self, name, x):
        g = self.f.create_group(name)
        g.attrs["count"] = np.int64(x.shape[0])
        mean = x.mean(axis=0)
        self.dataset(f"{name}/mean", mean, "<f8")
        self.dataset(f"{name}/m2", ((x - mean) ** 2).sum(axis=0), "<f8")

    def point(self, experiment, subgrid, estimator, eta, tau, b, law, weights, samples, axes):
        i = len(self.index)
        name = f"/points/{i:06d}"
        g = self.f.create_group(name)
        attrs = dict(index=np.int64(i), replicate=np.int64(0), subgrid=subgrid, experiment=experiment,
                     model="rbm", estimator=estimator, eta=float(eta), tau=float(tau), b=float(b),
                     law=law, weights=weights, learners=np.int64(4 if experiment == "train" else 1),
                     data="synthetic gaussian", samples=np.int64(samples), seed=np.int64(self.seed))
        attrs.update({k: str(v) for k, v in axes.items()})
        for k, v in attrs.items():
            g.attrs[k] = v
        self.index.append((i, eta, tau, b, 0, experiment))
        return name

    def finish(self, schema_version):
        f = self.f
        idx = self.index
        self.dataset("/index/point", [r[0] for r in idx], "<u8")
        self.dataset("/index/eta", [r[1] for r in idx], "<f8")
        self.dataset("/index/tau", [r[2] for r in idx], "<f8")
        self.dataset("/index/b", [r[3] for r in idx], "<f8")
        self.dataset("/index/replicate", [r[4] for r in idx], "<u8")
        f["/index"].attrs["experiments"] = ",".join(r[5] for r in idx)
        f["/index"].attrs["axes"] = AXES
        prov = dict(flexcl_version="synthetic", git_describe="synthetic", git_dirty=np.int64(0),
                    job_text=f"; synthetic results file (analysis/make_synthetic.py), seed {self.seed}\n",
                    job_file="synthetic.ini", command_line=" ".join(sys.argv), mpi_library="none",
                    mpi_ranks=np.int64(1), omp_threads=np.int64(1), hdf5_version=h5py.version.hdf5_version,
                    blas_config="none", hosts="synthetic", start_time="2026-01-01T00:00:00Z",
                    end_time="2026-01-01T00:00:01Z", schema_version=np.int64(schema_version))
        for k, v in prov.items():
            f.attrs[k] = v


def weights_for(kind, b):
    if kind == "importance":
        return -1 / (1 - b), 1 / b
    return -1 / b, 1 / (1 - b)   # swapped


def isd_model(rng):
    """μ±, A±, σ± with S⁻/S⁺ = ((1 − b*)/b*)²."""
    mu_p = rng.uniform(0.2, 0.8, P)
    mu_n = mu_p + rng.normal(0.0, 0.1, P)
    A_p, A_n = rng.normal(0, 0.3, (P, 3)), rng.normal(0, 0.3, (P, 3))
    sig_p = 0.5
    S_p = mu_p @ mu_p + np.sum(A_p ** 2) + P * sig_p ** 2
    S_n = S_p * ((1 - BSTAR) / BSTAR) ** 2
    sig_n = np.sqrt((S_n - mu_n @ mu_n - np.sum(A_n ** 2)) / P)
    return dict(mu=(mu_n, mu_p), A=(A_n, A_p), sig=(sig_n, sig_p))


def draw_isd(rng, model, n, b, weights):
    z = (rng.random(n) < b).astype(np.uint64)
    G = np.empty((n, P))
    for side in (0, 1):
        k = np.flatnonzero(z == side)
        G[k] = (model["mu"][side] + rng.standard_normal((k.size, 3)) @ model["A"][side].T
                + model["sig"][side] * rng.standard_normal((k.size, P)))
    w0, w1 = weights_for(weights, b)
    ghat = G * np.where(z == 1, w1, w0)[:, None]
    return z, G, ghat


def write_isd_point(w, rng, model, theta0, g, b, weights, label_weights, subgrid):
    name = w.point("isd_variance", subgrid, "isd", 0.005, 200.0, b, "fixed", label_weights, N,
                   {"estimator.b": f"{b:g}", "estimator.weights": label_weights})
    z, G, ghat = draw_isd(rng, model, N, b, weights)
    w.dataset(f"{name}/theta0", theta0, "<f8")
    w.dataset(f"{name}/exact_gradient", g, "<f8")
    w.moments(f"{name}/moments/ghat", ghat)
    w.moments(f"{name}/moments/gpos", G[z == 1])
    w.moments(f"{name}/moments/gneg", G[z == 0])
    w.dataset(f"{name}/samples/ghat", ghat[:M], "<f8")
    w.dataset(f"{name}/samples/z", z[:M], "<u8")
    for side, attr in ((1, "S_pos"), (0, "S_neg")):
        x = G[z == side]
        w.f[name].attrs[attr] = float(np.mean(np.sum(x ** 2, axis=1)))


def write_aol_point(w, rng, theta0, g, eta, tau, drift_slope, factors):
    name = w.point("aol_bias", "aol", "aol", eta, tau, 0.5, "geometric", "importance", N,
                   {"estimator.eta": f"{eta:g}", "estimator.tau": f"{tau:g}"})
    A_e, A_t, A_d, u, v = factors

    def gauss(mean, A, sig):
        return mean + rng.standard_normal((N, A.shape[1])) @ A.T + sig * rng.standard_normal((N, P))

    eta_max = max(ETA_GRID)
    e = gauss(g, A_e, 1.0)
    t = gauss(TRANSIENT_C / tau * u, A_t, 0.3)
    d = eta * gauss(DRIFT_C * eta_max ** 2 * (eta / eta_max) ** drift_slope / eta * v, A_d, 1.0)
    frozen = e + t
    delta = frozen + d / eta
    w.dataset(f"{name}/theta0", theta0, "<f8")
    w.dataset(f"{name}/exact_gradient", g, "<f8")
    for which, x in (("delta", delta), ("frozen", frozen), ("equilibrium", e), ("drift", d),
                     ("transient", t)):
        w.moments(f"{name}/moments/{which}", x)
    for which, x in (("delta", delta), ("drift", d), ("transient", t)):
        w.dataset(f"{name}/samples/{which}", x[:M], "<f8")
    w.dataset(f"{name}/samples/z", (rng.random(M) < 0.5).astype(np.uint64), "<u8")
    w.dataset(f"{name}/samples/length", rng.geometric(1 / tau, M).astype(np.uint64), "<u8")


def write_train_point(w, rng):
    name = w.point("train", "train", "isd", 0.005, 200.0, 0.5, "fixed", "importance", 0, {})
    steps = np.arange(0, 20001, 2000, dtype=np.uint64)
    L = 4
    nll = 110 + 245 * np.exp(-steps[None, :].astype(float) / 5000.0) + rng.normal(0, 2, (L, steps.size))
    w.dataset(f"{name}/curve/steps", steps, "<u8")
    w.dataset(f"{name}/curve/nll", nll, "<f8")
    w.dataset(f"{name}/curve/error", np.full((L, steps.size), np.nan), "<f8")
    w.dataset(f"{name}/curve/phases", np.tile(steps // 200, (L, 1)), "<u8")
    w.dataset(f"{name}/curve/updates", np.tile(steps // 200, (L, 1)), "<u8")
    theta = w.f.create_dataset(f"{name}/params/theta", data=rng.normal(0, 0.1, (L, P)))
    theta.attrs["W_offset"], theta.attrs["W_shape"] = np.int64(0), "2,8"
    theta.attrs["c_offset"], theta.attrs["c_shape"] = np.int64(16), "2,1"
    theta.attrs["a_offset"], theta.attrs["a_shape"] = np.int64(18), "6,1"


def write_synthetic(path, seed=1, biased=False, mislabel=False, drift_slope=2.0, schema_version=2):
    rng = np.random.default_rng(seed)
    model = isd_model(rng)
    g = model["mu"][1] - model["mu"][0]
    theta0 = rng.normal(0, 0.01, P)
    factors = (rng.normal(0, 0.5, (P, 3)), rng.normal(0, 0.1, (P, 2)), rng.normal(0, 0.7, (P, 2)),
               _unit(rng.normal(size=P)), _unit(rng.normal(size=P)))
    with h5py.File(path, "w") as f:
        w = Writer(f, seed)
        for b in B_GRID:
            actual = "swapped" if (mislabel and abs(b - 0.3) < 1e-12) else "importance"
            write_isd_point(w, rng, model, theta0, g, b, actual, "importance", "isd")
        if biased:
            write_isd_point(w, rng, model, theta0, g, 0.3, "swapped", "swapped", "control")
        for eta in ETA_GRID:
            for tau in TAU_GRID:
                write_aol_point(w, rng, theta0, g, eta, tau, drift_slope, factors)
        write_train_point(w, rng)
        w.finish(schema_version)
    return path


def write_brobust(path, slope, metric="nll", replicates=6, learners=2, seed=1, rep_sd=15.0,
                  point_sd=3.0, data=None, base=None):
    """Train points, b = 0.1 … 0.9 × `replicates`, each with `learners` learners and 41 curve points
    over 16e6 steps (τ = 200). The curve of learner l of replicate r at b decays to the level

        y∞(b, r) = base + slope · (b − 0.5) + u_r + e_{r,b},   u_r ~ N(0, rep_sd²), e ~ N(0, point_sd²)

    (u_r shared by the points of a replicate, as with run.streams = replicate), plus per-learner,
    per-curve-point noise N(0, (point_sd/2)²) around it. The decay is finished before the final quarter
    (e^(−12) of the initial gap at 12e6 steps), so the final-window mean of a point is y∞ + the mean of
    its curve noise. metric "nll": data "bas 4x4 (32 rows)", curve/error NaN; metric "error": data an
    IDX set with a label block, curve/error the metric and curve/nll a decreasing filler."""
    rng = np.random.default_rng(seed)
    if data is None:
        data = ("bas 4x4 (32 rows)" if metric == "nll" else
                "idx /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz (1000 of 60000 "
                "rows, 28x28, threshold 0.8, label block 10)")
    if base is None:
        base = 130.0 if metric == "nll" else 0.4
    steps = np.arange(0, 16_000_001, 400_000, dtype=np.uint64)
    t = steps.astype(float)
    u = rng.normal(0.0, rep_sd, replicates)
    with h5py.File(path, "w") as f:
        w = Writer(f, seed)
        for b in B_GRID:
            for r in range(replicates):
                name = w.point("train", "", "isd", 0.005, 200.0, b, "fixed", "importance", 0,
                               {"estimator.b": f"{b:g}"})
                w.index[-1] = w.index[-1][:4] + (r, "train")
                g = f[name]
                g.attrs["replicate"] = np.int64(r)
                g.attrs["learners"] = np.int64(learners)
                g.attrs["data"] = data
                level = base + slope * (b - 0.5) + u[r] + rng.normal(0.0, point_sd)
                start = 3.0 * base if metric == "nll" else 0.9
                y = (level + (start - level) * np.exp(-t / 1e6))[None, :] + rng.normal(
                    0.0, point_sd / 2, (learners, t.size))
                other = np.full((learners, t.size), np.nan)
                if metric == "error":
                    other = 1e5 + 1e6 * np.exp(-t / 1e6) + np.zeros((learners, 1))
                w.dataset(f"{name}/curve/steps", steps, "<u8")
                w.dataset(f"{name}/curve/nll", y if metric == "nll" else other, "<f8")
                w.dataset(f"{name}/curve/error", y if metric == "error" else other, "<f8")
                w.dataset(f"{name}/curve/phases", np.tile(steps // 200, (learners, 1)), "<u8")
                w.dataset(f"{name}/curve/updates", np.tile(steps // 200, (learners, 1)), "<u8")
                w.dataset(f"{name}/params/theta", rng.normal(0, 0.1, (learners, P)), "<f8")
        w.finish(2)
        f.attrs["job_text"] = (f"; synthetic b-robustness file (make_synthetic.write_brobust), seed "
                               f"{seed}, slope {slope:g}, metric {metric}\n")
    return path


def write_supervised(path, seed=1, test=True):
    """Two supervised points (model ff, estimators two_term and isd), 3 epochs, the layout
    src/cli/run.c writes for ff/dp/dpt/backprop: no curve/nll, curve/error = 1 − test accuracy.
    test=False: a job without a test set (curve/test_acc NaN, curve/error = 1 − train accuracy)."""
    rng = np.random.default_rng(seed)
    with h5py.File(path, "w") as f:
        w = Writer(f, seed)
        for est in ("two_term", "isd"):
            name = w.point("train", "", est, 0.01, 200.0, 0.5, "fixed", "importance", 0,
                           {"estimator.kind": est})
            g = f[name]
            g.attrs["model"], g.attrs["learners"] = "ff", np.int64(1)
            g.attrs["data"] = ("idx /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz "
                               "(2000 of 60000 rows, 28x28, grey)")
            epoch = np.arange(4, dtype=np.uint64)
            updates = epoch * 2000
            train_acc = 0.1 + 0.7 * (1 - np.exp(-epoch.astype(float) / 1.5)) + rng.normal(0, 0.01, 4)
            test_acc = train_acc - 0.05 if test else np.full(4, np.nan)
            w.dataset(f"{name}/curve/epoch", epoch, "<u8")
            w.dataset(f"{name}/curve/steps", updates, "<u8")
            w.dataset(f"{name}/curve/updates", updates[None, :], "<u8")
            w.dataset(f"{name}/curve/train_loss", (1 - train_acc)[None, :], "<f8")
            w.dataset(f"{name}/curve/train_acc", train_acc[None, :], "<f8")
            w.dataset(f"{name}/curve/test_acc", test_acc[None, :], "<f8")
            w.dataset(f"{name}/curve/seconds", (epoch * 1.5)[None, :].astype(float), "<f8")
            w.dataset(f"{name}/curve/error", (1 - (test_acc if test else train_acc))[None, :],
                      "<f8")
            w.dataset(f"{name}/params/theta", rng.normal(0, 0.1, (1, P)), "<f8")
        w.finish(2)
        f.attrs["job_text"] = f"; synthetic supervised file (make_synthetic.write_supervised), seed {seed}\n"
    return path


def write_registry(path, test=True, seed=1):
    """Train points of the registry models on labelled image data in the layout src/cli/run.c writes
    for them (write_point): eqprop / two_term (2 replicates × 2 learners), eqprop / tcl (1 × 1) and a
    labelled rbm / isd (1 × 2), 6 curve points each. curve/error is the error on the training rows,
    curve/test_error (only with test=True: a job with data.test_images) the error on the test rows,
    about 0.1 above it; eqprop's curve/nll is NaN. Every curve differs (noise per learner and point),
    so a series that mixes up train and test, or learners, is caught."""
    rng = np.random.default_rng(seed)
    data = ("idx /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz (10000 of 60000 rows, "
            "28x28, threshold 0.8, label block 10)")
    steps = np.arange(0, 26001, 5200, dtype=np.uint64)
    t = steps.astype(float)
    with h5py.File(path, "w") as f:
        w = Writer(f, seed)
        for model, est, reps, L, per_update in (("eqprop", "two_term", 2, 2, 40),
                                                ("eqprop", "tcl", 1, 1, 52), ("rbm", "isd", 1, 2, 50)):
            for r in range(reps):
                name = w.point("train", "", est, 0.05, 20.0, 0.5, "fixed", "importance", 0,
                               {"estimator.kind": est})
                w.index[-1] = w.index[-1][:4] + (r, "train")
                g = f[name]
                g.attrs["model"], g.attrs["learners"] = model, np.int64(L)
                g.attrs["replicate"], g.attrs["data"] = np.int64(r), data
                g.attrs["average_every"], g.attrs["averaging"] = np.int64(0), "blocking"
                train = 0.3 + 0.6 * np.exp(-t / 8000.0)[None, :] + rng.normal(0, 0.01, (L, t.size))
                nll = (np.full((L, t.size), np.nan) if model == "eqprop" else
                       4e5 + 1.5e5 * np.exp(-t / 8000.0) + np.zeros((L, 1)))
                updates = np.tile(steps // per_update, (L, 1))
                w.dataset(f"{name}/curve/steps", steps, "<u8")
                w.dataset(f"{name}/curve/nll", nll, "<f8")
                w.dataset(f"{name}/curve/error", train, "<f8")
                if test:
                    w.dataset(f"{name}/curve/test_error",
                              train + 0.1 + rng.normal(0, 0.01, (L, t.size)), "<f8")
                w.dataset(f"{name}/curve/phases", updates * (2 if est == "two_term" else 1), "<u8")
                w.dataset(f"{name}/curve/updates", updates, "<u8")
                w.dataset(f"{name}/params/theta", rng.normal(0, 0.1, (L, P)), "<f8")
        w.finish(2)
        f.attrs["job_text"] = (f"; synthetic registry-model file (make_synthetic.write_registry), "
                               f"seed {seed}, test {int(test)}\n")
    return path


def write_paired(path, deltas, replicates=6, seed=1, rep_sd=0.02, pair_sd=0.002, base_acc=0.72):
    """Supervised points for analysis/paired.py: a backprop baseline and one dpt configuration per
    entry of `deltas` (model.alpha = its index), each over `replicates` replicates. The final test
    accuracy of configuration c in replicate r is base_acc + o_r + deltas[c] + e_{c,r}, with a replicate
    offset o_r ~ N(0, rep_sd²) shared by every point of the replicate (paired streams) and
    e ~ N(0, pair_sd²) (the baseline has e = 0). The truth of the paired difference is deltas[c]."""
    rng = np.random.default_rng(seed)
    offsets = rng.normal(0.0, rep_sd, replicates)
    with h5py.File(path, "w") as f:
        w = Writer(f, seed)
        configs = [("backprop", None, 0.0)] + [("dpt", c, d) for c, d in enumerate(deltas)]
        for model, alpha, delta in configs:
            for r in range(replicates):
                name = w.point("train", model, "two_term", 0.001, 1.0, 0.5, "fixed", "importance", 0,
                               {"model.alpha": alpha if alpha is not None else 0.5})
                g = f[name]
                g.attrs["model"], g.attrs["learners"] = model, np.int64(1)
                g.attrs["replicate"] = np.int64(r)
                g.attrs["data"] = "idx synthetic (1000 of 1000 rows, 28x28, threshold 0.8)"
                e = 0.0 if alpha is None else rng.normal(0.0, pair_sd)
                acc = base_acc + offsets[r] + delta + e
                epoch = np.arange(2, dtype=np.uint64)
                test_acc = np.array([0.1, acc])
                w.dataset(f"{name}/curve/epoch", epoch, "<u8")
                w.dataset(f"{name}/curve/steps", epoch * 600, "<u8")
                w.dataset(f"{name}/curve/train_acc", test_acc[None, :] + 0.01, "<f8")
                w.dataset(f"{name}/curve/error", (1 - test_acc)[None, :], "<f8")
        w.finish(2)
        f.attrs["job_text"] = f"; synthetic paired file (make_synthetic.write_paired), seed {seed}\n"
    return path


def _unit(x):
    return x / np.linalg.norm(x)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--biased", action="store_true",
                    help="add the negative control: a b=0.3 point with weights=swapped")
    ap.add_argument("--mislabel", action="store_true",
                    help="generate the b=0.3 isd point with swapped weights, labelled importance")
    ap.add_argument("--drift-slope", type=float, default=2.0, help="log-log slope of drift in eta")
    ap.add_argument("--schema-version", type=int, default=2)
    a = ap.parse_args(argv)
    write_synthetic(a.out, a.seed, a.biased, a.mislabel, a.drift_slope, a.schema_version)
    return 0


if __name__ == "__main__":
    sys.exit(main())
