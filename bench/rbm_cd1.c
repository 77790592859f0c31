/* rbm_cd1: one epoch of CD-1 on binarised Fashion-MNIST with a 784 x 500 RBM
 * (minibatch 100, 600 updates), through flexcl's data, model and optimiser
 * API, against OpenBLAS DGEMM on the same shapes in the same process.
 *
 * One training step (one update) is what the two_term estimator does with
 * τ = 1 and persistent = 0 (CD-1 from the data): clamp v to the minibatch,
 * draw h (GEMM 1), G⁺ = h vᵀ (GEMM 2); restart at the rows, draw h (GEMM 3)
 * and v (GEMM 4), G⁻ = h vᵀ (GEMM 5); θ += η (G⁺ − G⁻). Its work is counted
 * as the 5 GEMMs' 5 · 2 · 100 · 500 · 784 flops; the time is everything:
 * data rows, Philox draws, sampling, GEMMs, statistics and the update.
 *
 * The reference is the same 5 DGEMM calls per step (double, as the RBM is),
 * on OpenBLAS's own threading at the same thread count: REF_STEPS of them
 * before every segment of SEGMENT updates (equally long, so that the best
 * of each is comparable), so that reference and training see the same
 * (shared, fluctuating) machine. Printed: the ratio over the
 * whole epoch (total times) and the ratio of the best segment to the best
 * reference chunk (the least disturbed of each, an estimate of the figure on
 * a machine of one's own); the final line carries the latter. ratio =
 * achieved GFLOP/s / DGEMM GFLOP/s.
 *
 * Usage: rbm_cd1 THREADS [EPOCH_FRACTION]   (goal: ratio >= 0.8) */
#include <cblas.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "bench_util.h"
#include "flexcl/data.h"
#include "flexcl/model.h"
#include "flexcl/optim.h"
#include "flexcl/rbm.h"
#include "flexcl/rng.h"
#include "kernels.h"

enum { NV = 784, NH = 500, BATCH = 100, SEGMENT = 10, REF_STEPS = 10 };

/* The 5 GEMMs of one step, plain OpenBLAS (its own threads). */
static void reference_step(const double *W, const double *V, const double *H, double *act_h,
                           double *act_v, double *gW)
{
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, BATCH, NH, NV, 1.0, V, NV, W, NV, 1.0,
                act_h, NH);
    cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, NH, NV, BATCH, 0.01, H, NH, V, NV, 1.0,
                gW, NV);
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, BATCH, NH, NV, 1.0, V, NV, W, NV, 1.0,
                act_h, NH);
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, BATCH, NV, NH, 1.0, H, NH, W, NV, 1.0,
                act_v, NV);
    cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, NH, NV, BATCH, -0.01, H, NH, V, NV, 1.0,
                gW, NV);
}

/* Seconds for `steps` reference steps at `threads` OpenBLAS threads. */
static double time_reference(int threads, int steps)
{
    double *W = malloc((size_t)NH * NV * sizeof *W), *V = malloc((size_t)BATCH * NV * sizeof *V);
    double *H = malloc((size_t)BATCH * NH * sizeof *H), *ah = calloc((size_t)BATCH * NH, sizeof *ah);
    double *av = calloc((size_t)BATCH * NV, sizeof *av), *gW = calloc((size_t)NH * NV, sizeof *gW);
    for (size_t k = 0; k < (size_t)NH * NV; ++k) W[k] = 0.01 * (double)(k % 17) - 0.08;
    for (size_t k = 0; k < (size_t)BATCH * NV; ++k) V[k] = (double)(k % 3 == 0);
    for (size_t k = 0; k < (size_t)BATCH * NH; ++k) H[k] = (double)(k % 2 == 0);
    openblas_set_num_threads(threads);
    reference_step(W, V, H, ah, av, gW); /* warm up */
    double t0 = bench_now();
    for (int s = 0; s < steps; ++s) reference_step(W, V, H, ah, av, gW);
    double t = bench_now() - t0;
    openblas_set_num_threads(1);
    free(W);
    free(V);
    free(H);
    free(ah);
    free(av);
    free(gW);
    return t;
}

int main(int argc, char **argv)
{
    int threads = argc > 1 ? atoi(argv[1]) : 1;
    double fraction = argc > 2 ? atof(argv[2]) : 1.0;
    if (threads < 1 || fraction <= 0 || fraction > 1) {
        fprintf(stderr, "usage: rbm_cd1 THREADS [EPOCH_FRACTION]\n");
        return 2;
    }
    omp_set_num_threads(threads);
    flexcl_data *d = NULL;
    if (bench_fmnist(0, 0, &d) != FLEXCL_OK) {
        fprintf(stderr, "rbm_cd1: %s\n", flexcl_error_message());
        return 1;
    }
    size_t n_rows = flexcl_data_rows(d), steps = (size_t)((double)(n_rows / BATCH) * fraction);
    flexcl_model_settings ms;
    flexcl_model_settings_default(&ms);
    ms.n_hidden = NH;
    flexcl_stream s = flexcl_stream_make(1, 0, 0);
    flexcl_model *m = NULL;
    flexcl_chain *c = NULL;
    flexcl_optim *opt = NULL;
    flexcl_optim_settings os;
    flexcl_optim_settings_default(&os);
    if (flexcl_model_create(&ms, flexcl_data_dim(d), 0, &s, &m) != FLEXCL_OK ||
        flexcl_chain_create(m, BATCH, &c) != FLEXCL_OK ||
        flexcl_rbm_set_threads(m, threads) != FLEXCL_OK ||
        flexcl_optim_create(&os, flexcl_model_n_params(m), flexcl_model_learnable(m), &opt) !=
            FLEXCL_OK) {
        fprintf(stderr, "rbm_cd1: %s\n", flexcl_error_message());
        return 1;
    }
    size_t P = flexcl_model_n_params(m);
    double *g = calloc(P, sizeof *g);
    size_t *order = malloc(n_rows * sizeof *order);
    const float **rows = malloc(BATCH * sizeof *rows);
    /* The epoch's data order (Fisher-Yates on the DATA lane, as learners do). */
    for (size_t k = 0; k < n_rows; ++k) order[k] = k;
    for (size_t k = n_rows; k > 1; --k) {
        size_t j = (size_t)(flexcl_stream_uniform1(&s, 0, FLEXCL_RNG_DATA, k) * (double)k);
        if (j >= k) j = k - 1;
        size_t t = order[k - 1];
        order[k - 1] = order[j];
        order[j] = t;
    }
    printf("rbm_cd1: %zux%d RBM, minibatch %d, %zu updates (%.0f%% of an epoch of %zu rows), "
           "%d thread(s); kernels %s; %s\n",
           flexcl_data_dim(d), NH, BATCH, steps, 100 * fraction, n_rows, threads,
           flexcl_kern_path(), openblas_get_config());

    double handoff0 = threads == 2 ? bench_handoff_ns(200000) : -1.0;
    double *theta = flexcl_model_params(m);
    double t_upd = 0.0;
    double t_ref = 0.0, t_train = 0.0, t0 = 0.0, best_ref = 1e30, best_seg = 1e30;
    int n_ref = 0;
    for (size_t k = 0; k < steps; ++k) {
        if (k % SEGMENT == 0) {
            if (k > 0) {
                double seg = bench_now() - t0;
                t_train += seg;
                best_seg = seg / SEGMENT < best_seg ? seg / SEGMENT : best_seg;
            }
            double r = time_reference(threads, REF_STEPS);
            t_ref += r;
            best_ref = r / REF_STEPS < best_ref ? r / REF_STEPS : best_ref;
            n_ref += REF_STEPS;
            t0 = bench_now();
        }
        for (size_t b = 0; b < BATCH; ++b) rows[b] = flexcl_data_row(d, order[k * BATCH + b]);
        uint64_t t = 2 * (uint64_t)k;
        flexcl_model_phase_begin(m, c, FLEXCL_PHASE_POSITIVE, rows, &s, t);
        flexcl_model_step(m, c, FLEXCL_PHASE_POSITIVE, &s, t);
        flexcl_optim_zero(opt, g); /* as the learner clears it */
        flexcl_model_stats_axpy(m, c, FLEXCL_PHASE_POSITIVE, 1.0, g);
        flexcl_model_chain_reset(m, c, rows);
        flexcl_model_step(m, c, FLEXCL_PHASE_NEGATIVE, &s, t + 1);
        flexcl_model_stats_axpy(m, c, FLEXCL_PHASE_NEGATIVE, -1.0, g);
        double tu = bench_now();
        flexcl_optim_apply(opt, theta, g, 0.01);
        t_upd += bench_now() - tu;
    }
    double last = bench_now() - t0;
    size_t last_n = steps - (steps - 1) / SEGMENT * SEGMENT;
    if (last_n == SEGMENT) best_seg = last / SEGMENT < best_seg ? last / SEGMENT : best_seg;
    t_train = (t_train + last) / (double)steps;
    double ref = t_ref / n_ref;

    /* The library's own GEMM scheme alone (serial OpenBLAS on fixed tiles,
     * OpenMP over tiles) is in t_train; to see where time goes, the kernels
     * switched off for a few steps: */
    flexcl_kern_set_simd(0);
    size_t few = steps < 60 ? steps : 60;
    double t1 = bench_now();
    for (size_t k = 0; k < few; ++k) {
        for (size_t b = 0; b < BATCH; ++b) rows[b] = flexcl_data_row(d, order[k * BATCH + b]);
        uint64_t t = 2 * (uint64_t)k;
        flexcl_model_phase_begin(m, c, FLEXCL_PHASE_POSITIVE, rows, &s, t);
        flexcl_model_step(m, c, FLEXCL_PHASE_POSITIVE, &s, t);
        memset(g, 0, P * sizeof *g);
        flexcl_model_stats_axpy(m, c, FLEXCL_PHASE_POSITIVE, 1.0, g);
        flexcl_model_chain_reset(m, c, rows);
        flexcl_model_step(m, c, FLEXCL_PHASE_NEGATIVE, &s, t + 1);
        flexcl_model_stats_axpy(m, c, FLEXCL_PHASE_NEGATIVE, -1.0, g);
        flexcl_optim_apply(opt, theta, g, 0.01);
    }
    double t_scalar = (bench_now() - t1) / (double)few;
    flexcl_kern_set_simd(1);

    double flops = 5.0 * 2.0 * BATCH * NH * (double)NV;
    if (threads == 2)
        printf("core-to-core hand-off %.0f ns before, %.0f ns after (one way, 2 threads)\n",
               handoff0, bench_handoff_ns(200000));
    printf("SGD update %.3f ms per step (of the training step below)\n",
           1e3 * t_upd / (double)steps);
    printf("training step %.3f ms = %.1f GFLOP/s (scalar kernels: %.3f ms)\n", 1e3 * t_train,
           flops / t_train * 1e-9, 1e3 * t_scalar);
    printf("DGEMM reference step %.3f ms = %.1f GFLOP/s (%d steps interleaved)\n", 1e3 * ref,
           flops / ref * 1e-9, n_ref);
    printf("whole epoch: ratio %.3f; best segment %.3f ms (%.1f GFLOP/s) / best reference "
           "chunk %.3f ms (%.1f GFLOP/s): ratio %.3f\n",
           ref / t_train, 1e3 * best_seg, flops / best_seg * 1e-9, 1e3 * best_ref,
           flops / best_ref * 1e-9, best_ref / best_seg);
    char name[64];
    snprintf(name, sizeof name, "rbm_cd1_t%d", threads);
    bench_result(name, best_ref / best_seg, 0.8);
    free(g);
    free(order);
    free(rows);
    flexcl_optim_destroy(&opt);
    flexcl_chain_destroy(&c);
    flexcl_model_destroy(&m);
    flexcl_data_destroy(&d);
    return 0;
}
