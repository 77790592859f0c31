/* The paired z test of Forward-Forward's single-phase estimators against
 * two_term, through the trainer itself (suite models; test_ff_isd.c,
 * test_ff_aol.c). One file of static functions, like fmnist.h.
 *
 * Design. A small FF network (hidden "20,20") on the first `rows` binarised
 * Fashion-MNIST training rows, batch 1, plain SGD (Adam would normalise the
 * mean away; with SGD, θ_M − θ₀ = lr · Σ steps exactly up to rounding). θ₀ =
 * one two_term SGD epoch (η = 0.05) over the rows from the Philox init of
 * stream (seed, 0, 0): a point on a training path, not the init. Sample i
 * (i < n) is `steps` minibatches from θ₀ (given by
 * flexcl_supervised_state_set) of a trainer keyed by the Philox stream
 * (seed, 1, i); its direction g = (θ_M − θ₀)/lr comes out of
 * flexcl_supervised_advance, nothing re-implemented here, with lr the rate
 * the trainer hands the optimiser (η; η/τ under aol).
 *
 * What varies. Within sample i, the two_term reference trainer (rate
 * `rate`) and every case's trainer share the stream, hence the examples
 * (the epoch's shuffle, FLEXCL_RNG_DATA) and the wrong labels
 * (FLEXCL_RNG_LABEL, drawn the same by two_term and by a negative phase at
 * the same update); only the phase draws are extra. Across samples
 * everything varies. The paired difference d_i = g_case,i − g_tt,i has mean
 * zero for every example and label when the case is unbiased.
 *
 * Statistic. d_i is projected on K fixed unit directions u_k: the two_term
 * sample mean, its layer-0 and layer-1 blocks (the ff.h layout), and K − 3
 * Philox Gaussian directions, each inside one layer's block (layers
 * alternate) and orthogonal to that block's two_term mean. z_k =
 * mean(u_k·d) / (sd(u_k·d)/√n) (paired, n − 1 in the variance); the test
 * statistic is max_k |z_k|. The directions are functions of the (example,
 * label) pairs only, and given those the d_i are independent with mean zero
 * under the null, so each z_k is ~N(0, 1). */
#ifndef FLEXCL_TEST_FF_PAIRED_H
#define FLEXCL_TEST_FF_PAIRED_H

#include <CUnit/Basic.h>
#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flexcl/data.h"
#include "flexcl/ff.h"
#include "flexcl/supervised.h"

#include "../test_util.h"
#include "fmnist.h"

/* One estimator configuration. */
typedef struct {
    flexcl_estimator_kind kind;
    double b;
    flexcl_weights weights;
    double eta;            /* the estimator's η (aol: the rate is η/τ) */
    double tau;            /* aol: mean phase length in minibatches */
    flexcl_phase_law law;  /* aol */
    int halfwidth;         /* aol, uniform law */
} ffp_case;

typedef struct {
    /* Set by the caller. */
    const char *hidden; /* "20,20": two layers */
    size_t rows;        /* training rows: the examples the samples draw from */
    size_t n;           /* samples per case */
    size_t k;           /* projections, >= 3 */
    uint64_t seed;
    uint64_t steps;     /* minibatches per sample, <= rows */
    double rate;        /* the two_term reference's η (its optimiser rate) */
    double z_max;       /* the test's threshold on max |z_k| (printed) */
    /* Filled by ffp_setup. */
    flexcl_data *train;
    size_t P, S, P0;    /* parameters, state size, layer-0 block size */
    double *state0;     /* θ₀ (+ the SGD state, which is empty, + loss sum) */
    uint64_t clock0[FLEXCL_SUP_CLOCK];
    double *u;          /* k unit directions, k × P */
    double *ptt;        /* u_j · g_tt,i: k × n */
    double tt_norm;     /* ‖two_term sample mean‖ */
} ffp;

/* The rate the trainer of ec hands to its optimiser (its own arithmetic). */
static double ffp_rate(const ffp_case *ec)
{
    return ec->kind == FLEXCL_EST_AOL ? ec->eta / ec->tau : ec->eta;
}

static flexcl_supervised *ffp_trainer(const ffp *f, const ffp_case *ec,
                                      const flexcl_stream *st)
{
    flexcl_supervised_settings s;
    flexcl_supervised_settings_default(&s);
    flexcl_model_settings ms; /* hidden */
    flexcl_model_settings_default(&ms);
    s.kind = FLEXCL_SUP_FF;
    snprintf(ms.hidden, sizeof ms.hidden, "%s", f->hidden);
    flexcl_estimator_settings es;
    flexcl_estimator_settings_default(&es);
    es.kind = ec->kind;
    es.b = ec->b;
    es.weights = ec->weights;
    es.eta = ec->eta;
    es.batch = 1;
    if (ec->kind == FLEXCL_EST_AOL) {
        es.tau = ec->tau;
        es.law = ec->law;
        es.uniform_halfwidth = ec->halfwidth;
    }
    flexcl_optim_settings os;
    flexcl_optim_settings_default(&os);
    os.kind = FLEXCL_OPTIM_SGD;
    flexcl_supervised *t = NULL;
    if (flexcl_supervised_create(&s, &ms, &es, &os, flexcl_data_pixels(f->train), 10, st,
                                 &t) != FLEXCL_OK)
        fprintf(stderr, "create failed: %s\n", flexcl_error_message());
    return t;
}

/* g = (θ_M − θ₀)/lr of sample i under ec: f->steps minibatches from θ₀
 * with stream (seed, 1, i). Returns 0 on success. */
static int ffp_sample(const ffp *f, const ffp_case *ec, size_t i, double *g)
{
    const flexcl_stream st = flexcl_stream_make(f->seed, 1, i);
    flexcl_supervised *t = ffp_trainer(f, ec, &st);
    int bad = t == NULL;
    int done = 0;
    if (!bad && (flexcl_supervised_state_set(t, f->state0, f->S, f->clock0) != FLEXCL_OK ||
                 flexcl_supervised_advance(t, f->train, f->steps, &done, NULL) != FLEXCL_OK ||
                 flexcl_supervised_updates(t) != f->clock0[FLEXCL_SUP_CLOCK_UPDATES] + f->steps)) {
        fprintf(stderr, "sample %zu: %s\n", i, flexcl_error_message());
        bad = 1;
    }
    if (!bad) {
        const double lr = ffp_rate(ec);
        const double *th = flexcl_supervised_params(t);
        for (size_t c = 0; c < f->P; ++c) g[c] = (th[c] - f->state0[c]) / lr;
    }
    flexcl_supervised_destroy(&t);
    return bad;
}

static double ffp_dot(const double *a, const double *b, size_t n)
{
    double s = 0.0;
    for (size_t c = 0; c < n; ++c) s += a[c] * b[c];
    return s;
}

/* Sample standard deviation of a[i] (+ b[i] when b is not NULL), i < n. */
static double ffp_sd(const double *a, const double *b, size_t n)
{
    double m = 0.0, v = 0.0;
    for (size_t i = 0; i < n; ++i) m += a[i] + (b ? b[i] : 0.0);
    m /= (double)n;
    for (size_t i = 0; i < n; ++i) {
        const double x = a[i] + (b ? b[i] : 0.0) - m;
        v += x * x;
    }
    return sqrt(v / (double)(n - 1));
}

/* x / ‖x‖ over [lo, hi), zero elsewhere, into out (length P). */
static void ffp_unit_block(size_t P, const double *x, size_t lo, size_t hi, double *out)
{
    memset(out, 0, P * sizeof *out);
    const double n = sqrt(ffp_dot(x + lo, x + lo, hi - lo));
    for (size_t c = lo; c < hi; ++c) out[c] = x[c] / n;
}

/* The two_term reference case of f (rate f->rate). */
static ffp_case ffp_two_term(const ffp *f)
{
    const ffp_case tt = {FLEXCL_EST_TWO_TERM, 0.5, FLEXCL_WEIGHTS_IMPORTANCE, f->rate,
                         200.0, FLEXCL_LAW_FIXED, 0};
    return tt;
}

/* The data, θ₀, the two_term samples' mean, the directions and the
 * two_term projections. Returns 0 on success. */
static int ffp_setup(ffp *f)
{
    f->train = fmnist_load(FMNIST "train-images-idx3-ubyte.gz",
                           FMNIST "train-labels-idx1-ubyte.gz", f->rows, 0);
    if (!f->train) return 1;
    /* θ₀: the Philox init of stream (seed, 0, 0), then one two_term SGD
     * epoch with η = 0.05. */
    flexcl_estimator_settings es;
    flexcl_supervised_settings s;
    flexcl_supervised_settings_default(&s);
    flexcl_model_settings ms; /* hidden */
    flexcl_model_settings_default(&ms);
    s.kind = FLEXCL_SUP_FF;
    snprintf(ms.hidden, sizeof ms.hidden, "%s", f->hidden);
    flexcl_estimator_settings_default(&es);
    es.kind = FLEXCL_EST_TWO_TERM;
    es.eta = 0.05;
    es.batch = 1;
    flexcl_optim_settings os;
    flexcl_optim_settings_default(&os);
    os.kind = FLEXCL_OPTIM_SGD; /* the samplers' state layout: θ, loss sum */
    const flexcl_stream st0 = flexcl_stream_make(f->seed, 0, 0);
    flexcl_supervised *t = NULL;
    double loss = NAN;
    if (flexcl_supervised_create(&s, &ms, &es, &os, flexcl_data_pixels(f->train), 10, &st0,
                                 &t) != FLEXCL_OK ||
        flexcl_supervised_epoch(t, f->train, &loss) != FLEXCL_OK) {
        fprintf(stderr, "theta0: %s\n", flexcl_error_message());
        flexcl_supervised_destroy(&t);
        return 1;
    }
    f->P = flexcl_supervised_n_params(t);
    f->S = flexcl_supervised_state_size(t);
    size_t widths[FLEXCL_FF_MAX_LAYERS], nh = 0;
    if (flexcl_supervised_hidden(&s, &ms, widths, FLEXCL_FF_MAX_LAYERS, &nh) != FLEXCL_OK ||
        nh != 2) {
        flexcl_supervised_destroy(&t);
        return 1;
    }
    const size_t P = f->P, N = f->n, K = f->k;
    /* Layer 0's block: W_0 (n_1 × n_0) then b_0 (flexcl/ff.h). */
    f->P0 = flexcl_data_pixels(f->train) * widths[0] + widths[0];
    f->state0 = calloc(f->S, sizeof *f->state0);
    f->u = calloc(K * P, sizeof *f->u);
    f->ptt = calloc(K * N, sizeof *f->ptt);
    double *g = calloc(P, sizeof *g), *mean = calloc(P, sizeof *mean);
    if (!f->state0 || !f->u || !f->ptt || !g || !mean) {
        flexcl_supervised_destroy(&t);
        free(g);
        free(mean);
        return 1;
    }
    flexcl_supervised_state_get(t, f->state0, f->clock0);
    flexcl_supervised_destroy(&t);
    printf("\n  theta0: %zu parameters, after one two_term epoch over %zu rows "
           "(loss %.4f, %llu updates)", P, f->rows, loss,
           (unsigned long long)f->clock0[FLEXCL_SUP_CLOCK_UPDATES]);

    /* The two_term mean, then the directions, then the projections (the
     * samples are recomputed rather than stored: n × P doubles is large). */
    const ffp_case tt = ffp_two_term(f);
    int bad = 0;
    for (size_t i = 0; i < N && !bad; ++i) {
        bad = ffp_sample(f, &tt, i, g);
        for (size_t c = 0; c < P; ++c) mean[c] += g[c] / (double)N;
    }
    if (!bad) {
        ffp_unit_block(P, mean, 0, P, f->u);
        ffp_unit_block(P, mean, 0, f->P0, f->u + P);
        ffp_unit_block(P, mean, f->P0, P, f->u + 2 * P);
        const flexcl_stream dirs = flexcl_stream_make(f->seed, 2, 0);
        for (size_t k = 3; k < K; ++k) {
            /* Alternately in layer 0's and layer 1's block, orthogonal to
             * that block's two_term mean (u_1 or u_2). */
            const int l1 = k % 2 == 0;
            const size_t lo = l1 ? f->P0 : 0, hi = l1 ? P : f->P0;
            const double *m = f->u + (l1 ? 2 : 1) * P;
            flexcl_stream_normal(&dirs, k, FLEXCL_RNG_MODEL, 0, P, g);
            const double a = ffp_dot(g + lo, m + lo, hi - lo);
            for (size_t c = lo; c < hi; ++c) g[c] -= a * m[c];
            ffp_unit_block(P, g, lo, hi, f->u + k * P);
        }
        f->tt_norm = sqrt(ffp_dot(mean, mean, P));
        printf("\n  two_term mean: |mean| = %.4e (layer 0 %.4e, layer 1 %.4e)",
               f->tt_norm, sqrt(ffp_dot(mean, mean, f->P0)),
               sqrt(ffp_dot(mean + f->P0, mean + f->P0, P - f->P0)));
    }
    for (size_t i = 0; i < N && !bad; ++i) {
        bad = ffp_sample(f, &tt, i, g);
        for (size_t k = 0; k < K; ++k) f->ptt[k * N + i] = ffp_dot(f->u + k * P, g, P);
    }
    if (!bad)
        printf("\n  two_term: sd(u_0·g) = %.3f |mean_tt| per %s", ffp_sd(f->ptt, NULL, N) /
               f->tt_norm, f->steps == 1 ? "update" : "sample");
    free(g);
    free(mean);
    return bad;
}

/* max_k |z_k| of the paired difference case − two_term for ec; the z's are
 * printed, and with z_out not NULL stored there (k values). Returns NAN on
 * failure. */
static double ffp_max_z(const ffp *f, const ffp_case *ec, double *z_out)
{
    const size_t P = f->P, N = f->n, K = f->k;
    double *g = calloc(P, sizeof *g), *p = calloc(K * N, sizeof *p);
    if (!g || !p || !f->ptt) {
        free(g);
        free(p);
        return NAN;
    }
    for (size_t i = 0; i < N; ++i) {
        if (ffp_sample(f, ec, i, g)) {
            free(g);
            free(p);
            return NAN;
        }
        for (size_t k = 0; k < K; ++k)
            p[k * N + i] = ffp_dot(f->u + k * P, g, P) - f->ptt[k * N + i];
    }
    double zmax = 0.0;
    printf("\n  %-8s b = %.1f %-10s", flexcl_estimator_kind_name(ec->kind), ec->b,
           flexcl_weights_name(ec->weights));
    if (ec->kind == FLEXCL_EST_AOL)
        printf(" tau %g %s", ec->tau, flexcl_phase_law_name(ec->law));
    if (ec->kind == FLEXCL_EST_AOL && ec->law == FLEXCL_LAW_UNIFORM)
        printf(" (w %d)", ec->halfwidth);
    printf(" z =");
    for (size_t k = 0; k < K; ++k) {
        const double *d = p + k * N;
        double m = 0.0;
        for (size_t i = 0; i < N; ++i) m += d[i];
        m /= (double)N;
        const double z = m / (ffp_sd(d, NULL, N) / sqrt((double)N));
        printf(" %+.2f", z);
        if (z_out) z_out[k] = z;
        zmax = fabs(z) > zmax ? fabs(z) : zmax;
    }
    /* The spread along u_0 of one sample, and the bias along u_0 the test
     * resolves (Z standard errors), in units of the signal. */
    printf("  (max |z| %.2f, Z = %.1f)\n    sd(u_0·g) = %.2f |mean_tt| per %s; "
           "Z·SE(u_0·d) = %.2f |mean_tt|", zmax, f->z_max, ffp_sd(f->ptt, p, N) / f->tt_norm,
           f->steps == 1 ? "update" : "sample",
           f->z_max * ffp_sd(p, NULL, N) / sqrt((double)N) / f->tt_norm);
    free(g);
    free(p);
    return zmax;
}

static void ffp_free(ffp *f)
{
    flexcl_data_destroy(&f->train);
    free(f->state0);
    free(f->u);
    free(f->ptt);
    f->state0 = f->u = f->ptt = NULL;
}

/* The programs' main: set up f (its failure fails every case, which then
 * finds ptt == NULL), run the cases as suite `name`, print the total time,
 * free f; the exit status. */
static int ffp_main(ffp *f, const char *name, const test_case *cases, size_t n)
{
    const double t0 = omp_get_wtime();
    const int bad = ffp_setup(f);
    if (bad) {
        fprintf(stderr, "set-up failed\n");
        free(f->ptt);
        f->ptt = NULL;
    }
    if (CU_initialize_registry() != CUE_SUCCESS) return 1;
    if (add_suite(name, cases, n)) return 1;
    int rc = run_all();
    printf("\n  total %.1f s\n", omp_get_wtime() - t0);
    ffp_free(f);
    return rc || bad ? 1 : 0;
}

#endif
