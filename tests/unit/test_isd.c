/* ISD is unbiased: on a tiny RBM whose exact gradient g(θ) is known, the mean
 * of N ISD samples drawn at equilibrium passes two tests of E[ĝ] = g, and the
 * same tests reject a deliberately biased estimator (swapped importance
 * weights) and the unit-weight variant at b ≠ ½.
 *
 * Samples: z ~ Bernoulli(b); positive: a data row drawn uniformly, h | v
 * exact; negative: an exact equilibrium sample (v, h) of the model; ĝ =
 * w_z G(z). N = 40000, b = 0.3, P = 19 coordinates.
 * Tests, each at α = 1e-3:
 *   norm:  N‖mean − g‖² against tr Σ · χ²_ν/ν with ν = (tr Σ)²/tr Σ²
 *          (Satterthwaite's approximation of Σ λ_k χ²_1);
 *   coord: max_k |mean_k − g_k| / (σ_k/√N) against the Bonferroni normal
 *          quantile z_{α/(2P)}.
 * False-fail rate of the pair for a correct estimator: at most 2e-3 (up to the
 * approximations' accuracy); the seeds are fixed, so the outcome is
 * deterministic. */
#include <stdlib.h>
#include <string.h>

#include "../test_util.h"
#include "flexcl/data.h"
#include "flexcl/learner.h"
#include "flexcl/model.h"

enum { N = 40000 };
static const double B = 0.3, ALPHA = 1e-3;

typedef struct {
    double norm_stat, norm_crit, max_z, z_crit;
} verdict;

static int rejects(const verdict *v) { return v->norm_stat > v->norm_crit || v->max_z > v->z_crit; }

static verdict run(flexcl_weights weights)
{
    verdict out = {0, 0, 0, 0};
    flexcl_data *d = NULL;
    flexcl_data_create_bas(2, &d);
    flexcl_model_settings ms;
    flexcl_model_settings_default(&ms);
    ms.n_hidden = 3;
    flexcl_stream init = flexcl_stream_make(5, 0, 0);
    flexcl_model *m = NULL;
    CU_ASSERT_EQUAL(flexcl_model_create(&ms, 4, 0, &init, &m), FLEXCL_OK);
    size_t P = flexcl_model_n_params(m);
    CU_ASSERT_EQUAL(P, 19);
    double *th = flexcl_model_params(m);
    flexcl_stream_normal(&init, 1, FLEXCL_RNG_INIT, 0, P, th);
    for (size_t k = 0; k < P; ++k) th[k] *= 0.7;

    double *g = calloc(P, sizeof *g), *x = calloc((size_t)N * P, sizeof *x);
    CU_ASSERT_EQUAL(flexcl_model_exact_gradient(m, d, g), FLEXCL_OK);
    flexcl_chain *c = NULL;
    flexcl_chain_create(m, 1, &c);
    flexcl_stream s = flexcl_stream_make(2023, 0, 0);
    double w_pos, w_neg;
    flexcl_estimator_weights(weights, B, &w_pos, &w_neg);
    size_t rows = flexcl_data_rows(d);
    for (uint64_t n = 0; n < N; ++n) {
        int z = flexcl_stream_uniform1(&s, n, FLEXCL_RNG_PHASE, 0) < B;
        const float *row = NULL;
        if (z) {
            size_t r = (size_t)(flexcl_stream_uniform1(&s, n, FLEXCL_RNG_DATA, 0) * (double)rows);
            row = flexcl_data_row(d, r < rows ? r : rows - 1);
        }
        flexcl_phase ph = z ? FLEXCL_PHASE_POSITIVE : FLEXCL_PHASE_NEGATIVE;
        flexcl_model_equilibrium(m, c, ph, z ? &row : NULL, &s, n);
        flexcl_model_stats_axpy(m, c, ph, z ? w_pos : w_neg, x + n * P);
    }
    /* mean, covariance */
    double *mean = calloc(P, sizeof *mean), *cov = calloc(P * P, sizeof *cov);
    for (size_t n = 0; n < N; ++n)
        for (size_t k = 0; k < P; ++k) mean[k] += x[n * P + k] / N;
    for (size_t n = 0; n < N; ++n)
        for (size_t k = 0; k < P; ++k)
            for (size_t l = 0; l < P; ++l)
                cov[k * P + l] += (x[n * P + k] - mean[k]) * (x[n * P + l] - mean[l]) / (N - 1);
    double tr = 0, tr2 = 0, dist2 = 0;
    for (size_t k = 0; k < P; ++k) {
        tr += cov[k * P + k];
        for (size_t l = 0; l < P; ++l) tr2 += cov[k * P + l] * cov[l * P + k];
        double dk = mean[k] - g[k];
        dist2 += dk * dk;
        double zk = fabs(dk) / sqrt(cov[k * P + k] / N);
        if (zk > out.max_z) out.max_z = zk;
    }
    double nu = tr * tr / tr2;
    out.norm_stat = N * dist2;
    out.norm_crit = tr / nu * chi2_upper_quantile(nu, ALPHA);
    out.z_crit = normal_upper_quantile(ALPHA / (2.0 * (double)P));
    printf("\n    %-10s N|mean-g|^2 = %.4g (critical %.4g, nu %.1f)  max|z| = %.2f (critical %.2f)",
           flexcl_weights_name(weights), out.norm_stat, out.norm_crit, nu, out.max_z, out.z_crit);
    free(mean);
    free(cov);
    free(g);
    free(x);
    flexcl_chain_destroy(&c);
    flexcl_model_destroy(&m);
    flexcl_data_destroy(&d);
    return out;
}

static void test_importance_unbiased(void)
{
    verdict v = run(FLEXCL_WEIGHTS_IMPORTANCE);
    CU_ASSERT_TRUE(v.norm_stat < v.norm_crit);
    CU_ASSERT_TRUE(v.max_z < v.z_crit);
}

static void test_swapped_rejected(void)
{
    verdict v = run(FLEXCL_WEIGHTS_SWAPPED);
    CU_ASSERT_TRUE(rejects(&v));
    CU_ASSERT_TRUE(v.norm_stat > v.norm_crit);
}

static void test_unit_rejected(void)
{
    verdict v = run(FLEXCL_WEIGHTS_UNIT);
    CU_ASSERT_TRUE(rejects(&v));
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS) return 1;
    test_case cases[] = {{"isd_importance_unbiased", test_importance_unbiased},
                         {"isd_swapped_weights_rejected", test_swapped_rejected},
                         {"isd_unit_weights_rejected_at_b_0.3", test_unit_rejected}};
    if (add_suite("isd", cases, sizeof cases / sizeof *cases)) return 1;
    return run_all() ? 1 : 0;
}
