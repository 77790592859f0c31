/* Forward-Forward under isd is an unbiased estimate of the two_term update
 * (SPEC §2: E_z[ĝ_isd] = G⁺ − G⁻ for any b in (0, 1) with importance
 * weights), measured through the trainer itself (suite models).
 *
 * Design. A 784-20-20 FF network on the first ROWS binarised Fashion-MNIST
 * training rows, batch 1, plain SGD with η = 1 (Adam would normalise the
 * mean away; with η = 1, η·g is exact and (θ₁ − θ₀)/η is the direction g
 * up to the one rounding of θ₀ + g, ~1e-17 absolute). θ₀ = one two_term SGD
 * epoch (η = 0.05) over the rows from the Philox init: a point on a training
 * path, not the init. Sample i (i < N) is one update from θ₀ (given by
 * flexcl_supervised_state_set) of a trainer keyed by the Philox stream
 * (SEED, 1, i); its direction comes out of flexcl_supervised_advance, i.e.
 * the product's ff_direction, nothing re-implemented here.
 *
 * What varies. Within sample i, the two_term trainer and every isd trainer
 * share the stream, hence the example (the epoch's shuffle, FLEXCL_RNG_DATA)
 * and the wrong label (FLEXCL_RNG_LABEL, drawn the same by two_term and by an
 * isd negative phase); only the isd phase draw z (FLEXCL_RNG_PHASE) is extra.
 * Across samples the example, the wrong label and z all vary. The paired
 * difference d_i = ĝ_isd,i − ĝ_tt,i therefore has E[d_i | example, label] =
 * (b w₁ − 1) G⁺ + ((1 − b) w₀ + 1) G⁻: zero with importance weights, not
 * zero otherwise; with z held fixed d_i would be a constant, so its spread
 * is the z noise (times G^± of the example).
 *
 * Statistic. d_i is projected on K fixed unit directions u_k: the two_term
 * sample mean, its layer-0 and layer-1 blocks (the ff.h layout), and
 * K − 3 Philox Gaussian directions, each inside one layer's block (layers
 * alternate) and orthogonal to that block's two_term mean. At this θ₀ the
 * spread of d lies almost along the two_term mean (G⁺ and G⁻ of one example
 * are nearly parallel), so unconstrained random directions would repeat
 * u_0's z; the orthogonal ones look where the mean directions do not
 * (correlation with u_0·d at most about 0.6, about 0 in layer 0). z_k =
 * mean(u_k·d) / (sd(u_k·d)/√N) (paired, N − 1 in the variance). The
 * mean-based directions are a function of the (example, label) pairs only,
 * and given those the d_i are independent with mean zero under the null,
 * so z_k is still ~N(0, 1): over 12 other seeds the 192 z's of the two
 * unbiased cases had mean −0.04, sd 1.01, max |z| 2.59. The test fails when
 * max_k |z_k| > Z. False-fail rate (Bonferroni): K·2(1 − Φ(Z)) = 8 · 6.8e-6
 * = 5.4e-5 per unbiased case, 1.1e-4 for the two unbiased cases (importance
 * at b = 0.3 and b = ½); the seeds are fixed, so that is the chance that a
 * seed is unlucky, not a flake rate.
 *
 * Resolution (printed): Z standard errors of u_0·d are ≈ 1.2 ‖ḡ_tt‖, because
 * one isd update spreads ≈ 16 ‖ḡ_tt‖ along ḡ_tt (two_term: 0.15) — G⁺ and
 * G⁻ of one image are large and nearly cancel. So the test sees a weight
 * error of 20 % (w₀ × 0.8 at b = ½: max |z| 6.3) but not one of 10 % (2.4).
 *
 * Must-fail twins: `swapped` weights (1/(1−b), −1/b) at b = 0.3 (at b = ½
 * they equal importance weights: checked bitwise) and `unit` weights (1, −1)
 * at b = 0.3 (E = b G⁺ − (1−b) G⁻: another direction for b ≠ ½; at b = ½ it
 * is ½(G⁺ − G⁻), right direction, half size). Both must give max |z| > Z by a wide
 * margin; the test asserts max |z| > 2Z and prints every z.
 *
 * Deterministic (fixed seeds) and independent of the thread count: the
 * first samples are recomputed at 2 OpenMP threads and must be bitwise the
 * 1-thread ones. */
#include <CUnit/Basic.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../test_util.h"
#include "flexcl/data.h"
#include "flexcl/ff.h"
#include "flexcl/supervised.h"

#include "fmnist.h"

enum {
    ROWS = 500,   /* training rows: the examples the samples draw from */
    N = 4000,     /* samples (updates) per case */
    K = 8,        /* projections */
    N_THREADS = 16 /* samples recomputed at 2 threads */
};
#define SEED 20260718ull
#define Z_MAX 4.5  /* per-projection threshold; Bonferroni rate above */
#define ETA 1.0

static flexcl_data *train_set;
static const char *const hidden = "20,20";
static size_t P, S, P0; /* parameters, state size, layer-0 block size */
static double *state0;  /* θ₀ (+ the SGD state, which is empty, + loss sum) */
static uint64_t clock0[FLEXCL_SUP_CLOCK];
static double *u;       /* K unit directions, K × P */
static double *ptt;     /* u_k · ĝ_tt,i: K × N */
static double tt_norm;  /* ‖two_term sample mean‖ */

typedef struct {
    flexcl_estimator_kind kind;
    double b;
    flexcl_weights weights;
} est_case;

static flexcl_supervised *make_trainer(const est_case *ec, const flexcl_stream *st)
{
    flexcl_supervised_settings s;
    flexcl_supervised_settings_default(&s);
    flexcl_model_settings ms; /* hidden */
    flexcl_model_settings_default(&ms);
    s.kind = FLEXCL_SUP_FF;
    snprintf(ms.hidden, sizeof ms.hidden, "%s", hidden);
    flexcl_estimator_settings es;
    flexcl_estimator_settings_default(&es);
    es.kind = ec->kind;
    es.b = ec->b;
    es.weights = ec->weights;
    es.eta = ETA;
    es.batch = 1;
    flexcl_optim_settings os;
    flexcl_optim_settings_default(&os);
    os.kind = FLEXCL_OPTIM_SGD;
    flexcl_supervised *t = NULL;
    if (flexcl_supervised_create(&s, &ms, &es, &os, flexcl_data_pixels(train_set), 10, st,
                                 &t) != FLEXCL_OK)
        fprintf(stderr, "create failed: %s\n", flexcl_error_message());
    return t;
}

/* g = (θ₁ − θ₀)/η of sample i under ec: one update from θ₀ with stream
 * (SEED, 1, i). Returns 0 on success. */
static int sample(const est_case *ec, size_t i, double *g)
{
    const flexcl_stream st = flexcl_stream_make(SEED, 1, i);
    flexcl_supervised *t = make_trainer(ec, &st);
    int bad = t == NULL;
    int done = 0;
    if (!bad && (flexcl_supervised_state_set(t, state0, S, clock0) != FLEXCL_OK ||
                 flexcl_supervised_advance(t, train_set, 1, &done, NULL) != FLEXCL_OK)) {
        fprintf(stderr, "sample %zu: %s\n", i, flexcl_error_message());
        bad = 1;
    }
    if (!bad) {
        const double *th = flexcl_supervised_params(t);
        for (size_t c = 0; c < P; ++c) g[c] = (th[c] - state0[c]) / ETA;
    }
    flexcl_supervised_destroy(&t);
    return bad;
}

static double dot(const double *a, const double *b, size_t n)
{
    double s = 0.0;
    for (size_t c = 0; c < n; ++c) s += a[c] * b[c];
    return s;
}

/* Sample standard deviation of a[i] (+ b[i] when b is not NULL), i < N. */
static double sd(const double *a, const double *b)
{
    double m = 0.0, v = 0.0;
    for (size_t i = 0; i < N; ++i) m += a[i] + (b ? b[i] : 0.0);
    m /= N;
    for (size_t i = 0; i < N; ++i) {
        const double x = a[i] + (b ? b[i] : 0.0) - m;
        v += x * x;
    }
    return sqrt(v / (N - 1));
}

/* x / ‖x‖ over [lo, hi), zero elsewhere, into out (length P). */
static void unit_block(const double *x, size_t lo, size_t hi, double *out)
{
    memset(out, 0, P * sizeof *out);
    const double n = sqrt(dot(x + lo, x + lo, hi - lo));
    for (size_t c = lo; c < hi; ++c) out[c] = x[c] / n;
}

static const est_case two_term = {FLEXCL_EST_TWO_TERM, 0.5, FLEXCL_WEIGHTS_IMPORTANCE};

/* θ₀, the two_term samples' mean, the directions and the two_term
 * projections. Returns 0 on success. */
static int setup(void)
{
    train_set = fmnist_load(FMNIST "train-images-idx3-ubyte.gz",
                            FMNIST "train-labels-idx1-ubyte.gz", ROWS, 0);
    if (!train_set) return 1;
    /* θ₀: the Philox init of stream (SEED, 0, 0), then one two_term SGD
     * epoch with η = 0.05. */
    flexcl_estimator_settings es;
    flexcl_supervised_settings s;
    flexcl_supervised_settings_default(&s);
    flexcl_model_settings ms; /* hidden */
    flexcl_model_settings_default(&ms);
    s.kind = FLEXCL_SUP_FF;
    snprintf(ms.hidden, sizeof ms.hidden, "%s", hidden);
    flexcl_estimator_settings_default(&es);
    es.kind = FLEXCL_EST_TWO_TERM;
    es.eta = 0.05;
    es.batch = 1;
    flexcl_optim_settings os;
    flexcl_optim_settings_default(&os);
    os.kind = FLEXCL_OPTIM_SGD; /* the samplers' state layout: θ, loss sum */
    const flexcl_stream st0 = flexcl_stream_make(SEED, 0, 0);
    flexcl_supervised *t = NULL;
    double loss = NAN;
    if (flexcl_supervised_create(&s, &ms, &es, &os, flexcl_data_pixels(train_set), 10, &st0,
                                 &t) != FLEXCL_OK ||
        flexcl_supervised_epoch(t, train_set, &loss) != FLEXCL_OK) {
        fprintf(stderr, "theta0: %s\n", flexcl_error_message());
        flexcl_supervised_destroy(&t);
        return 1;
    }
    P = flexcl_supervised_n_params(t);
    S = flexcl_supervised_state_size(t);
    size_t widths[FLEXCL_FF_MAX_LAYERS], nh = 0;
    if (flexcl_supervised_hidden(&s, &ms, widths, FLEXCL_FF_MAX_LAYERS, &nh) != FLEXCL_OK ||
        nh != 2) {
        flexcl_supervised_destroy(&t);
        return 1;
    }
    /* Layer 0's block: W_0 (n_1 × n_0) then b_0 (flexcl/ff.h). */
    P0 = flexcl_data_pixels(train_set) * widths[0] + widths[0];
    state0 = calloc(S, sizeof *state0);
    u = calloc((size_t)K * P, sizeof *u);
    ptt = calloc((size_t)K * N, sizeof *ptt);
    double *g = calloc(P, sizeof *g), *mean = calloc(P, sizeof *mean);
    if (!state0 || !u || !ptt || !g || !mean) {
        flexcl_supervised_destroy(&t);
        free(g);
        free(mean);
        return 1;
    }
    flexcl_supervised_state_get(t, state0, clock0);
    flexcl_supervised_destroy(&t);
    printf("\n  theta0: %zu parameters, after one two_term epoch over %d rows "
           "(loss %.4f, %llu updates)", P, ROWS, loss,
           (unsigned long long)clock0[FLEXCL_SUP_CLOCK_UPDATES]);

    /* The two_term mean, then the directions, then the projections (the
     * samples are recomputed rather than stored: N × P doubles is large). */
    int bad = 0;
    for (size_t i = 0; i < N && !bad; ++i) {
        bad = sample(&two_term, i, g);
        for (size_t c = 0; c < P; ++c) mean[c] += g[c] / N;
    }
    if (!bad) {
        unit_block(mean, 0, P, u);
        unit_block(mean, 0, P0, u + P);
        unit_block(mean, P0, P, u + 2 * P);
        const flexcl_stream dirs = flexcl_stream_make(SEED, 2, 0);
        for (size_t k = 3; k < K; ++k) {
            /* Alternately in layer 0's and layer 1's block, orthogonal to
             * that block's two_term mean (u_1 or u_2). */
            const int l1 = k % 2 == 0;
            const size_t lo = l1 ? P0 : 0, hi = l1 ? P : P0;
            const double *m = u + (l1 ? 2 : 1) * P;
            flexcl_stream_normal(&dirs, k, FLEXCL_RNG_MODEL, 0, P, g);
            const double a = dot(g + lo, m + lo, hi - lo);
            for (size_t c = lo; c < hi; ++c) g[c] -= a * m[c];
            unit_block(g, lo, hi, u + k * P);
        }
        tt_norm = sqrt(dot(mean, mean, P));
        printf("\n  two_term mean: |mean| = %.4e (layer 0 %.4e, layer 1 %.4e)",
               tt_norm, sqrt(dot(mean, mean, P0)),
               sqrt(dot(mean + P0, mean + P0, P - P0)));
    }
    for (size_t i = 0; i < N && !bad; ++i) {
        bad = sample(&two_term, i, g);
        for (size_t k = 0; k < K; ++k) ptt[k * N + i] = dot(u + k * P, g, P);
    }
    if (!bad)
        printf("\n  two_term: sd(u_0·g) = %.3f |mean_tt| per update", sd(ptt, NULL) / tt_norm);
    free(g);
    free(mean);
    return bad;
}

/* max_k |z_k| of the paired difference isd − two_term for case ec; the
 * z's are printed. Returns NAN on failure. */
static double max_z(const est_case *ec)
{
    double *g = calloc(P, sizeof *g), *p = calloc((size_t)K * N, sizeof *p);
    if (!g || !p) {
        free(g);
        free(p);
        return NAN;
    }
    for (size_t i = 0; i < N; ++i) {
        if (sample(ec, i, g)) {
            free(g);
            free(p);
            return NAN;
        }
        for (size_t k = 0; k < K; ++k)
            p[k * N + i] = dot(u + k * P, g, P) - ptt[k * N + i];
    }
    double zmax = 0.0;
    printf("\n  %-8s b = %.1f %-10s z =", flexcl_estimator_kind_name(ec->kind), ec->b,
           flexcl_weights_name(ec->weights));
    for (size_t k = 0; k < K; ++k) {
        const double *d = p + k * N;
        double m = 0.0;
        for (size_t i = 0; i < N; ++i) m += d[i];
        m /= N;
        const double z = m / (sd(d, NULL) / sqrt(N));
        printf(" %+.2f", z);
        zmax = fabs(z) > zmax ? fabs(z) : zmax;
    }
    /* The per-update spread of isd along u_0, and the bias along u_0 the
     * test resolves (Z standard errors), in units of the signal. */
    printf("  (max |z| %.2f, Z = %.1f)\n    sd(u_0·g) = %.2f |mean_tt| per update; "
           "Z·SE(u_0·d) = %.2f |mean_tt|", zmax, Z_MAX, sd(ptt, p) / tt_norm,
           Z_MAX * sd(p, NULL) / sqrt(N) / tt_norm);
    free(g);
    free(p);
    return zmax;
}

static void check_unbiased(const est_case *ec)
{
    CU_ASSERT_PTR_NOT_NULL_FATAL(ptt);
    const double z = max_z(ec);
    CU_ASSERT(isfinite(z));
    CU_ASSERT(z <= Z_MAX);
}

static void check_detected(const est_case *ec)
{
    CU_ASSERT_PTR_NOT_NULL_FATAL(ptt);
    const double z = max_z(ec);
    CU_ASSERT(isfinite(z));
    CU_ASSERT(z > 2.0 * Z_MAX);
}

static void test_importance_half(void)
{
    const est_case ec = {FLEXCL_EST_ISD, 0.5, FLEXCL_WEIGHTS_IMPORTANCE};
    check_unbiased(&ec);
}

static void test_importance_03(void)
{
    const est_case ec = {FLEXCL_EST_ISD, 0.3, FLEXCL_WEIGHTS_IMPORTANCE};
    check_unbiased(&ec);
}

static void test_swapped_03(void)
{
    const est_case ec = {FLEXCL_EST_ISD, 0.3, FLEXCL_WEIGHTS_SWAPPED};
    check_detected(&ec);
}

static void test_unit_03(void)
{
    const est_case ec = {FLEXCL_EST_ISD, 0.3, FLEXCL_WEIGHTS_UNIT};
    check_detected(&ec);
}

/* Why the swapped twin runs at b = 0.3: at b = ½ its weights are the
 * importance weights (2, −2), so its updates are bitwise the same. And the
 * samples do not depend on the thread count. */
static void test_swapped_half_and_threads(void)
{
    CU_ASSERT_PTR_NOT_NULL_FATAL(ptt);
    const est_case imp = {FLEXCL_EST_ISD, 0.5, FLEXCL_WEIGHTS_IMPORTANCE};
    const est_case swp = {FLEXCL_EST_ISD, 0.5, FLEXCL_WEIGHTS_SWAPPED};
    const est_case imp3 = {FLEXCL_EST_ISD, 0.3, FLEXCL_WEIGHTS_IMPORTANCE};
    double *a = calloc(P, sizeof *a), *b = calloc(P, sizeof *b);
    CU_ASSERT_PTR_NOT_NULL_FATAL(a);
    CU_ASSERT_PTR_NOT_NULL_FATAL(b);
    const int threads = omp_get_max_threads();
    for (size_t i = 0; i < N_THREADS; ++i) {
        CU_ASSERT_EQUAL(sample(&imp, i, a), 0);
        CU_ASSERT_EQUAL(sample(&swp, i, b), 0);
        CU_ASSERT(memcmp(a, b, P * sizeof *a) == 0);
        omp_set_num_threads(1);
        CU_ASSERT_EQUAL(sample(&imp3, i, a), 0);
        omp_set_num_threads(2);
        CU_ASSERT_EQUAL(sample(&imp3, i, b), 0);
        omp_set_num_threads(threads);
        CU_ASSERT(memcmp(a, b, P * sizeof *a) == 0);
    }
    free(a);
    free(b);
}

int main(void)
{
    const double t0 = omp_get_wtime();
    const int bad = setup();
    if (bad) { /* every case then fails on ptt == NULL */
        fprintf(stderr, "set-up failed\n");
        free(ptt);
        ptt = NULL;
    }
    if (CU_initialize_registry() != CUE_SUCCESS) return 1;
    test_case cases[] = {
        {"isd_importance_b05_unbiased", test_importance_half},
        {"isd_importance_b03_unbiased", test_importance_03},
        {"isd_swapped_b03_detected", test_swapped_03},
        {"isd_unit_b03_detected", test_unit_03},
        {"isd_swapped_b05_is_importance_and_threads", test_swapped_half_and_threads},
    };
    if (add_suite("ff_isd", cases, sizeof cases / sizeof *cases)) return 1;
    int rc = run_all();
    printf("\n  total %.1f s\n", omp_get_wtime() - t0);
    flexcl_data_destroy(&train_set);
    free(state0);
    free(u);
    free(ptt);
    return rc || bad ? 1 : 0;
}
