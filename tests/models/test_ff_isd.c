/* Forward-Forward under isd is an unbiased estimate of the two_term update
 * (SPEC §2: E_z[ĝ_isd] = G⁺ − G⁻ for any b in (0, 1) with importance
 * weights), measured through the trainer itself (suite models).
 *
 * Design (the machinery is ff_paired.h, shared with test_ff_aol.c). A
 * 784-20-20 FF network on the first ROWS binarised Fashion-MNIST training
 * rows, batch 1, plain SGD with η = 1 (Adam would normalise the mean away;
 * with η = 1, η·g is exact and (θ₁ − θ₀)/η is the direction g up to the one
 * rounding of θ₀ + g, ~1e-17 absolute). θ₀ = one two_term SGD epoch (η =
 * 0.05) over the rows from the Philox init: a point on a training path, not
 * the init. Sample i (i < N) is one update from θ₀ (given by
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
#include "ff_paired.h"

enum {
    ROWS = 500,   /* training rows: the examples the samples draw from */
    N = 4000,     /* samples (updates) per case */
    K = 8,        /* projections */
    N_THREADS = 16 /* samples recomputed at 2 threads */
};
#define SEED 20260718ull
#define Z_MAX 4.5  /* per-projection threshold; Bonferroni rate above */
#define ETA 1.0

static ffp F = {.hidden = "20,20", .rows = ROWS, .n = N, .k = K, .seed = SEED, .steps = 1,
                .rate = ETA, .z_max = Z_MAX};

static void check_unbiased(const ffp_case *ec)
{
    CU_ASSERT_PTR_NOT_NULL_FATAL(F.ptt);
    const double z = ffp_max_z(&F, ec, NULL);
    CU_ASSERT(isfinite(z));
    CU_ASSERT(z <= Z_MAX);
}

static void check_detected(const ffp_case *ec)
{
    CU_ASSERT_PTR_NOT_NULL_FATAL(F.ptt);
    const double z = ffp_max_z(&F, ec, NULL);
    CU_ASSERT(isfinite(z));
    CU_ASSERT(z > 2.0 * Z_MAX);
}

static void test_importance_half(void)
{
    const ffp_case ec = {FLEXCL_EST_ISD, 0.5, FLEXCL_WEIGHTS_IMPORTANCE, ETA, 200.0,
                         FLEXCL_LAW_FIXED, 0};
    check_unbiased(&ec);
}

static void test_importance_03(void)
{
    const ffp_case ec = {FLEXCL_EST_ISD, 0.3, FLEXCL_WEIGHTS_IMPORTANCE, ETA, 200.0,
                         FLEXCL_LAW_FIXED, 0};
    check_unbiased(&ec);
}

static void test_swapped_03(void)
{
    const ffp_case ec = {FLEXCL_EST_ISD, 0.3, FLEXCL_WEIGHTS_SWAPPED, ETA, 200.0,
                         FLEXCL_LAW_FIXED, 0};
    check_detected(&ec);
}

static void test_unit_03(void)
{
    const ffp_case ec = {FLEXCL_EST_ISD, 0.3, FLEXCL_WEIGHTS_UNIT, ETA, 200.0,
                         FLEXCL_LAW_FIXED, 0};
    check_detected(&ec);
}

/* Why the swapped twin runs at b = 0.3: at b = ½ its weights are the
 * importance weights (2, −2), so its updates are bitwise the same. And the
 * samples do not depend on the thread count. */
static void test_swapped_half_and_threads(void)
{
    CU_ASSERT_PTR_NOT_NULL_FATAL(F.ptt);
    const ffp_case imp = {FLEXCL_EST_ISD, 0.5, FLEXCL_WEIGHTS_IMPORTANCE, ETA, 200.0,
                          FLEXCL_LAW_FIXED, 0};
    const ffp_case swp = {FLEXCL_EST_ISD, 0.5, FLEXCL_WEIGHTS_SWAPPED, ETA, 200.0,
                          FLEXCL_LAW_FIXED, 0};
    const ffp_case imp3 = {FLEXCL_EST_ISD, 0.3, FLEXCL_WEIGHTS_IMPORTANCE, ETA, 200.0,
                           FLEXCL_LAW_FIXED, 0};
    const size_t P = F.P;
    double *a = calloc(P, sizeof *a), *b = calloc(P, sizeof *b);
    CU_ASSERT_PTR_NOT_NULL_FATAL(a);
    CU_ASSERT_PTR_NOT_NULL_FATAL(b);
    const int threads = omp_get_max_threads();
    for (size_t i = 0; i < N_THREADS; ++i) {
        CU_ASSERT_EQUAL(ffp_sample(&F, &imp, i, a), 0);
        CU_ASSERT_EQUAL(ffp_sample(&F, &swp, i, b), 0);
        CU_ASSERT(memcmp(a, b, P * sizeof *a) == 0);
        omp_set_num_threads(1);
        CU_ASSERT_EQUAL(ffp_sample(&F, &imp3, i, a), 0);
        omp_set_num_threads(2);
        CU_ASSERT_EQUAL(ffp_sample(&F, &imp3, i, b), 0);
        omp_set_num_threads(threads);
        CU_ASSERT(memcmp(a, b, P * sizeof *a) == 0);
    }
    free(a);
    free(b);
}

int main(void)
{
    test_case cases[] = {
        {"isd_importance_b05_unbiased", test_importance_half},
        {"isd_importance_b03_unbiased", test_importance_03},
        {"isd_swapped_b03_detected", test_swapped_03},
        {"isd_unit_b03_detected", test_unit_03},
        {"isd_swapped_b05_is_importance_and_threads", test_swapped_half_and_threads},
    };
    return ffp_main(&F, "ff_isd", cases, sizeof cases / sizeof *cases);
}
