/* rbm_small: Gibbs sweeps of the authors' small RBM — 16 visible units (4x4
 * bars and stripes) and 16 hidden units — over many independent chains, in
 * one process through flexcl's model API (the chains path: per-chain SIMD
 * loops, vectorised Philox and σ, OpenMP over blocks of chains).
 *
 * A sweep is one negative-phase time step of one chain: all 16 hidden units
 * given v, then all 16 visible units given h (512 multiply-adds, 32 Philox
 * uniforms, 32 Bernoulli(σ) decisions). The rate per core is sweeps per
 * second divided by the OpenMP threads used, at 1 and at 2 threads; the
 * figure is the smaller of the two over 10 million, for 2048 chains (their
 * states, 512 KB, stay in the 1 MB L2; 4x as many chains are printed too,
 * at 1 thread: their states stream from L3). Also printed: the same
 * sweeps with the kernels switched to their scalar references, and the
 * plain scalar loop (index-order sums, flexcl_stream_uniform, libm σ, one
 * chain at a time) that the chains path replaced. Every figure is the best
 * of REPS short runs of SWEEPS sweeps (the machine is shared; the best run is
 * the least disturbed one). The OpenMP wait policy matters at 2 threads
 * (one short parallel region per sweep): bench/meson.build runs this with
 * libgomp's default (spin, then sleep), and the header line says which.
 *
 * Usage: rbm_small [CHAINS] [SWEEPS]   (goal: ratio >= 1) */
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "bench_util.h"
#include "flexcl/data.h"
#include "flexcl/model.h"
#include "flexcl/rbm.h"
#include "flexcl/rng.h"
#include "kernels.h"

enum { NV = 16, NH = 16, REPS = 60 };

/* Sweeps per second of the model's chain, n sweeps from step t0. */
static double model_rate(flexcl_model *m, flexcl_chain *c, const flexcl_stream *s,
                         uint64_t t0, int n)
{
    double start = bench_now();
    for (int k = 0; k < n; ++k)
        flexcl_model_step(m, c, FLEXCL_PHASE_NEGATIVE, s, t0 + (uint64_t)k);
    return (double)flexcl_chain_batch(c) * n / (bench_now() - start);
}

/* The plain scalar loop, one chain after another. */
static double scalar_rate(const double *theta, double *v, double *h, size_t B,
                          const flexcl_stream *s, int n)
{
    const double *W = theta, *cb = theta + NH * NV, *a = cb + NH;
    double u[NV > NH ? NV : NH];
    double start = bench_now();
    for (int t = 0; t < n; ++t)
        for (size_t b = 0; b < B; ++b) {
            double *vb = v + b * NV, *hb = h + b * NH;
            flexcl_stream_uniform(s, (uint64_t)t, FLEXCL_RNG_HIDDEN, b * NH, NH, u);
            for (size_t j = 0; j < NH; ++j) {
                double x = cb[j];
                for (size_t i = 0; i < NV; ++i) x += W[j * NV + i] * vb[i];
                hb[j] = 1.0 / (1.0 + exp(-x)) >= u[j] ? 1.0 : 0.0;
            }
            flexcl_stream_uniform(s, (uint64_t)t, FLEXCL_RNG_VISIBLE, b * NV, NV, u);
            for (size_t i = 0; i < NV; ++i) {
                double x = a[i];
                for (size_t j = 0; j < NH; ++j)
                    if (hb[j] != 0.0) x += W[j * NV + i];
                vb[i] = 1.0 / (1.0 + exp(-x)) >= u[i] ? 1.0 : 0.0;
            }
        }
    return (double)B * n / (bench_now() - start);
}

int main(int argc, char **argv)
{
    size_t B = argc > 1 ? (size_t)atol(argv[1]) : 2048;
    int n = argc > 2 ? atoi(argv[2]) : 25;
    flexcl_data *d = NULL;
    flexcl_model *m = NULL;
    flexcl_chain *c = NULL;
    flexcl_model_settings ms;
    flexcl_model_settings_default(&ms);
    ms.n_hidden = NH;
    flexcl_stream init = flexcl_stream_make(1, 0, 0), s = flexcl_stream_make(2, 0, 0);
    if (flexcl_data_create_bas(4, &d) != FLEXCL_OK ||
        flexcl_model_create(&ms, flexcl_data_dim(d), 0, &init, &m) != FLEXCL_OK ||
        flexcl_chain_create(m, B, &c) != FLEXCL_OK) {
        fprintf(stderr, "rbm_small: %s\n", flexcl_error_message());
        return 1;
    }
    /* Couplings of order one, as after training, so units are not all σ ≈ ½. */
    size_t P = flexcl_model_n_params(m);
    double *theta = flexcl_model_params(m);
    flexcl_stream_normal(&init, 1, FLEXCL_RNG_INIT, 0, P, theta);
    const float **rows = malloc(B * sizeof *rows);
    for (size_t b = 0; b < B; ++b) rows[b] = flexcl_data_row(d, b % flexcl_data_rows(d));
    flexcl_model_chain_reset(m, c, rows);
    const char *policy = getenv("OMP_WAIT_POLICY"), *spin = getenv("GOMP_SPINCOUNT");
    printf("rbm_small: %dx%d RBM (4x4 bars and stripes), %zu chains, best of %d runs of %d "
           "sweeps; kernels %s; OMP_WAIT_POLICY %s, GOMP_SPINCOUNT %s\n",
           NV, NH, B, REPS, n, flexcl_kern_path(), policy ? policy : "(unset: libgomp's "
           "default, spin then sleep)", spin ? spin : "(unset)");

    uint64_t t = 0;
    model_rate(m, c, &s, t, 5); /* warm up */
    t += 5;
    double per_core[2];
    for (int th = 1; th <= 2; ++th) {
        flexcl_rbm_set_threads(m, th);
        double best = 0.0;
        for (int rep = 0; rep < REPS; ++rep, t += (uint64_t)n) {
            double r = model_rate(m, c, &s, t, n);
            best = r > best ? r : best;
        }
        per_core[th - 1] = best / th;
        printf("flexcl chains path, %d thread(s): %.2f M sweeps/s = %.2f M sweeps/s per core "
               "(load %.2f)\n",
               th, best * 1e-6, per_core[th - 1] * 1e-6, bench_load());
    }
    flexcl_rbm_set_threads(m, 1);
    {
        flexcl_chain *big = NULL;
        const float **brows = malloc(4 * B * sizeof *brows);
        for (size_t b = 0; b < 4 * B; ++b) brows[b] = flexcl_data_row(d, b % flexcl_data_rows(d));
        if (brows && flexcl_chain_create(m, 4 * B, &big) == FLEXCL_OK) {
            flexcl_model_chain_reset(m, big, brows);
            double best = 0.0;
            for (int rep = 0; rep < REPS; ++rep, t += (uint64_t)n) {
                double r = model_rate(m, big, &s, t, n / 4 > 0 ? n / 4 : 1);
                best = r > best ? r : best;
            }
            printf("flexcl chains path, %zu chains, 1 thread: %.2f M sweeps/s\n", 4 * B,
                   best * 1e-6);
        }
        flexcl_chain_destroy(&big);
        free(brows);
    }
    flexcl_kern_set_simd(0);
    double off = 0.0;
    for (int rep = 0; rep < REPS / 4; ++rep, t += (uint64_t)n) {
        double r = model_rate(m, c, &s, t, n);
        off = r > off ? r : off;
    }
    flexcl_kern_set_simd(1);
    printf("flexcl chains path, kernels scalar, 1 thread: %.2f M sweeps/s\n", off * 1e-6);
    double *v = malloc(B * NV * sizeof *v), *h = calloc(B * NH, sizeof *h);
    for (size_t b = 0; b < B; ++b)
        for (size_t i = 0; i < NV; ++i) v[b * NV + i] = rows[b][i];
    double plain = 0.0;
    for (int rep = 0; rep < REPS / 4; ++rep) {
        double r = scalar_rate(theta, v, h, B, &s, n);
        plain = r > plain ? r : plain;
    }
    printf("plain scalar loop, 1 thread: %.2f M sweeps/s (chains path is %.1fx faster per "
           "core)\n",
           plain * 1e-6, per_core[0] / plain);
    double worst = per_core[0] < per_core[1] ? per_core[0] : per_core[1];
    bench_result("rbm_small", worst / 1e7, 1.0);
    free(v);
    free(h);
    free(rows);
    flexcl_chain_destroy(&c);
    flexcl_model_destroy(&m);
    flexcl_data_destroy(&d);
    return 0;
}
