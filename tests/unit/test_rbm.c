/* RBM: exact log Z against brute force, exact gradient against finite
 * differences, and the Gibbs sampler (both sweep paths) and exact sampler
 * against the exact visible marginal (chi-square, each with a twin that must
 * fail). Bitwise checks of the sweep paths are in tests/kernels. */
#include <stdlib.h>
#include <string.h>

#include "../models/fmnist.h"
#include "../test_util.h"
#include "flexcl/data.h"
#include "flexcl/model.h"
#include "flexcl/rbm.h"

static flexcl_model *make_rbm(size_t nv, int nh, int visible_bias, double sigma, uint64_t seed)
{
    flexcl_model_settings ms;
    flexcl_model_settings_default(&ms);
    ms.n_hidden = nh;
    ms.visible_bias = visible_bias;
    flexcl_stream init = flexcl_stream_make(seed, 0, 0);
    flexcl_model *m = NULL;
    if (flexcl_model_create(&ms, nv, 0, &init, &m) != FLEXCL_OK) return NULL;
    /* Every parameter ~ N(0, sigma²): strong enough couplings to matter. */
    size_t P = flexcl_model_n_params(m);
    flexcl_stream_normal(&init, 1, FLEXCL_RNG_INIT, 0, P, flexcl_model_params(m));
    for (size_t k = 0; k < P; ++k) flexcl_model_params(m)[k] *= sigma;
    return m;
}

/* log Z by brute force over all 2^(nv+nh) joint states. */
static double brute_log_z(flexcl_model *m, size_t nv, size_t nh, int vb)
{
    const double *th = flexcl_model_params(m);
    const double *W = th, *c = th + nh * nv, *a = vb ? c + nh : NULL;
    double z = 0;
    for (unsigned vs = 0; vs < 1u << nv; ++vs)
        for (unsigned hs = 0; hs < 1u << nh; ++hs) {
            double e = 0;
            for (size_t j = 0; j < nh; ++j) {
                if (!(hs >> j & 1)) continue;
                e += c[j];
                for (size_t i = 0; i < nv; ++i)
                    if (vs >> i & 1) e += W[j * nv + i];
            }
            if (a)
                for (size_t i = 0; i < nv; ++i)
                    if (vs >> i & 1) e += a[i];
            z += exp(e);
        }
    return log(z);
}

static void test_log_z(void)
{
    for (int vb = 0; vb <= 1; ++vb) {
        flexcl_model *m = make_rbm(3, 2, vb, 1.0, 11 + (uint64_t)vb);
        CU_ASSERT_PTR_NOT_NULL_FATAL(m);
        double lz = 0;
        CU_ASSERT_EQUAL(flexcl_rbm_log_z(m, &lz), FLEXCL_OK);
        double ref = brute_log_z(m, 3, 2, vb);
        CU_ASSERT_DOUBLE_EQUAL(lz, ref, 1e-12 * fabs(ref) + 1e-13);
        flexcl_model_destroy(&m);
    }
    /* A larger case exercising the blocked Gray-code enumeration. */
    flexcl_model *m = make_rbm(5, 9, 1, 0.7, 5);
    double lz = 0;
    CU_ASSERT_EQUAL(flexcl_rbm_log_z(m, &lz), FLEXCL_OK);
    CU_ASSERT_DOUBLE_EQUAL(lz, brute_log_z(m, 5, 9, 1), 1e-11 * fabs(lz));
    flexcl_model_destroy(&m);
}

/* The exact gradient is ∂/∂θ of the mean log-likelihood of the data. */
static void test_exact_gradient(void)
{
    flexcl_data *d = NULL;
    CU_ASSERT_EQUAL_FATAL(flexcl_data_create_bas(2, &d), FLEXCL_OK);
    flexcl_model *m = make_rbm(4, 3, 1, 0.8, 3);
    size_t P = flexcl_model_n_params(m);
    double *g = calloc(P, sizeof *g);
    CU_ASSERT_EQUAL(flexcl_model_exact_gradient(m, d, g), FLEXCL_OK);
    double n = (double)flexcl_data_rows(d), worst = 0;
    for (size_t k = 0; k < P; ++k) {
        double *th = flexcl_model_params(m), keep = th[k], hi, lo, h = 1e-5;
        th[k] = keep + h;
        flexcl_rbm_nll(m, d, &hi);
        th[k] = keep - h;
        flexcl_rbm_nll(m, d, &lo);
        th[k] = keep;
        double fd = -(hi - lo) / (2 * h) / n;
        worst = fmax(worst, fabs(fd - g[k]));
    }
    CU_ASSERT_TRUE(worst < 1e-7);
    free(g);
    flexcl_model_destroy(&m);
    flexcl_data_destroy(&d);
}

/* Exact p(v) of every visible state of a 4-visible RBM. */
static void exact_marginal(flexcl_model *m, double p[16])
{
    double lz;
    flexcl_rbm_log_z(m, &lz);
    for (unsigned s = 0; s < 16; ++s) {
        double v[4];
        for (int i = 0; i < 4; ++i) v[i] = s >> i & 1;
        p[s] = exp(flexcl_rbm_log_unnormalised(m, v) - lz);
    }
}

static double chi_square(const long counts[16], const double p[16], long n)
{
    double chi = 0;
    for (int s = 0; s < 16; ++s) {
        double e = p[s] * (double)n;
        chi += (counts[s] - e) * (counts[s] - e) / e;
    }
    return chi;
}

enum { CHAINS = 20000, SWEEPS = 60 };

/* Final visible states of CHAINS independent chains (Gibbs sweeps from the
 * 16 corner states, or one exact draw), as counts of 4-bit codes. */
static void histogram(flexcl_model *m, int exact, long counts[16])
{
    CU_ASSERT_EQUAL(flexcl_rbm_set_threads(m, 2), FLEXCL_OK);
    flexcl_chain *c = NULL;
    CU_ASSERT_EQUAL_FATAL(flexcl_chain_create(m, CHAINS, &c), FLEXCL_OK);
    float *rows = calloc(CHAINS * 4, sizeof *rows);
    const float **rp = malloc(CHAINS * sizeof *rp);
    for (int b = 0; b < CHAINS; ++b) {
        for (int i = 0; i < 4; ++i) rows[b * 4 + i] = (float)((b >> i) & 1);
        rp[b] = rows + b * 4;
    }
    flexcl_model_chain_reset(m, c, rp);
    flexcl_stream s = flexcl_stream_make(77, 0, 0);
    if (exact)
        CU_ASSERT_EQUAL(flexcl_model_equilibrium(m, c, FLEXCL_PHASE_NEGATIVE, NULL, &s, 0), FLEXCL_OK);
    for (uint64_t t = 0; !exact && t < SWEEPS; ++t)
        flexcl_model_step(m, c, FLEXCL_PHASE_NEGATIVE, &s, t);
    memset(counts, 0, 16 * sizeof *counts);
    double st[7];
    CU_ASSERT_EQUAL(flexcl_model_state_size(m), 7);
    for (int b = 0; b < CHAINS; ++b) {
        flexcl_chain_state(m, c, (size_t)b, st);
        unsigned code = 0;
        for (int i = 0; i < 4; ++i) code |= (unsigned)(st[i] > 0.5) << i;
        counts[code]++;
    }
    free(rows);
    free(rp);
    flexcl_chain_destroy(&c);
}

/* Chi-square with 15 degrees of freedom at α = 1e-3 (false-fail rate 0.1%
 * for an exact sampler; the Gibbs chains run 60 sweeps on a 4x3 RBM whose
 * mixing time is a few sweeps, so their residual bias is far below the
 * test's resolution). The twin compares the same counts with the marginal of
 * a perturbed model, which the test must reject. */
static void check_sampler(int exact, flexcl_rbm_path path)
{
    flexcl_model *m = make_rbm(4, 3, 1, 1.0, 21);
    CU_ASSERT_PTR_NOT_NULL_FATAL(m);
    CU_ASSERT_EQUAL(flexcl_rbm_set_path(m, path), FLEXCL_OK);
    long counts[16];
    histogram(m, exact, counts);
    double p[16], crit = chi2_upper_quantile(15, 1e-3);
    exact_marginal(m, p);
    double chi = chi_square(counts, p, CHAINS);
    printf("\n    %s sampler%s: chi2 = %.2f (critical %.2f)", exact ? "exact" : "Gibbs",
           path == FLEXCL_RBM_PATH_BATCHED ? " (batched DGEMM path)" : "", chi, crit);
    CU_ASSERT_TRUE(chi < crit);
    /* Twin: a model whose first weight differs by 0.3 must be rejected. */
    flexcl_model_params(m)[0] += 0.3;
    exact_marginal(m, p);
    double chi_wrong = chi_square(counts, p, CHAINS);
    printf(" twin chi2 = %.2f", chi_wrong);
    CU_ASSERT_TRUE(chi_wrong > crit);
    flexcl_model_destroy(&m);
}

static void test_gibbs_chi_square(void) { check_sampler(0, FLEXCL_RBM_PATH_AUTO); }
static void test_exact_sampler_chi_square(void) { check_sampler(1, FLEXCL_RBM_PATH_AUTO); }
/* The same chains swept by the batched (DGEMM) path, which the 4x3 model
 * would not take by itself. */
static void test_gibbs_batched_chi_square(void) { check_sampler(0, FLEXCL_RBM_PATH_BATCHED); }

/* Any RBM scores above the perfect model of the authors' 4x4 BAS set. */
static void test_bas_floor(void)
{
    flexcl_data *d = NULL;
    CU_ASSERT_EQUAL_FATAL(flexcl_data_create_bas(4, &d), FLEXCL_OK);
    flexcl_model *m = make_rbm(16, 16, 1, 1.0, 8);
    double nll = 0;
    CU_ASSERT_EQUAL(flexcl_rbm_nll(m, d, &nll), FLEXCL_OK);
    CU_ASSERT_TRUE(nll > 28 * log(32.0) + 4 * log(16.0));
    flexcl_metrics mt;
    CU_ASSERT_EQUAL(flexcl_model_evaluate(m, d, &mt), FLEXCL_OK);
    CU_ASSERT_DOUBLE_EQUAL(mt.nll, nll, 1e-9 * nll);
    flexcl_model_destroy(&m);
    flexcl_data_destroy(&d);
}

/* Predicted label of one row: argmax over y of the log label posterior
 * a_y + Σ_j softplus(c_j + W_j · v_y), v_y = the row's pixels with label
 * y's one-hot block, every unit summed in order (the definition, not the
 * library's shared pixel input). with_labels = 0 drops the label units'
 * terms: the wrong posterior of the twin. */
static size_t direct_label(const double *th, size_t nv, size_t nh, size_t K, const float *x,
                           int with_labels)
{
    const double *W = th, *c = th + nh * nv, *a = c + nh;
    size_t npx = nv - K, arg = 0;
    double best = -INFINITY;
    for (size_t y = 0; y < K; ++y) {
        double f = with_labels ? a[npx + y] : 0.0;
        for (size_t j = 0; j < nh; ++j) {
            double s = c[j];
            for (size_t i = 0; i < nv; ++i) {
                double v = i < npx ? x[i] : (with_labels && i - npx == y ? 1.0 : 0.0);
                s += W[j * nv + i] * v;
            }
            f += s > 0 ? s + log1p(exp(-s)) : log1p(exp(s));
        }
        if (f > best) {
            best = f;
            arg = y;
        }
    }
    return arg;
}

/* The label error of flexcl_model_evaluate against direct_label on 1100
 * binarised Fashion-MNIST rows, with an RBM whose first 10 hidden units
 * detect the classes (input s[(m_y − m)·x − ½(‖m_y‖² − ‖m‖²)], s = 0.05,
 * class mean m_y, mean image m, label weight 2 on its own class) and 6 more random
 * ones (every other parameter ~ N(0, 0.01²)): the posterior then ranks
 * labels about as a nearest-centroid rule does, well below chance. The
 * library must count exactly the rows the definition gets wrong; twin: the
 * posterior without the label units predicts label 0 for every row. */
static void test_label_error(void)
{
    const size_t n = 1100, K = 10, nh = 16; /* 3 blocks of label_error's GEMM (512 rows) */
    flexcl_data *d = fmnist_load(FMNIST "train-images-idx3-ubyte.gz",
                                 FMNIST "train-labels-idx1-ubyte.gz", n, 1);
    CU_ASSERT_PTR_NOT_NULL_FATAL(d);
    size_t nv = flexcl_data_dim(d), npx = nv - K;
    flexcl_model_settings ms;
    flexcl_model_settings_default(&ms);
    ms.n_hidden = (int)nh;
    ms.visible_bias = 1;
    flexcl_stream init = flexcl_stream_make(7, 0, 0);
    flexcl_model *m = NULL;
    CU_ASSERT_EQUAL_FATAL(flexcl_model_create(&ms, nv, K, &init, &m), FLEXCL_OK);
    double *th = flexcl_model_params(m);
    size_t P = flexcl_model_n_params(m);
    CU_ASSERT_EQUAL_FATAL(P, nh * nv + nh + nv);
    flexcl_stream_normal(&init, 1, FLEXCL_RNG_INIT, 0, P, th);
    for (size_t q = 0; q < P; ++q) th[q] *= 0.01;
    double *mean = calloc((K + 1) * npx, sizeof *mean);
    size_t count[10] = {0};
    for (size_t k = 0; k < n; ++k) {
        const float *x = flexcl_data_row(d, k);
        int y = flexcl_data_label(d, k);
        count[y]++;
        for (size_t i = 0; i < npx; ++i) {
            mean[(size_t)y * npx + i] += x[i];
            mean[K * npx + i] += x[i] / (double)n;
        }
    }
    for (size_t j = 0; j < K; ++j) {
        double *mj = mean + j * npx, *m0 = mean + K * npx, sq = 0.0;
        for (size_t i = 0; i < npx; ++i) {
            mj[i] /= (double)(count[j] ? count[j] : 1);
            sq += mj[i] * mj[i] - m0[i] * m0[i];
        }
        for (size_t i = 0; i < nv; ++i)
            th[j * nv + i] = i < npx ? 0.05 * (mj[i] - m0[i]) : (i - npx == j ? 2.0 : 0.0);
        th[nh * nv + j] = -0.5 * 0.05 * sq;
    }
    size_t wrong = 0, wrong_twin = 0;
    for (size_t k = 0; k < n; ++k) {
        const float *x = flexcl_data_row(d, k);
        int y = flexcl_data_label(d, k);
        wrong += direct_label(th, nv, nh, K, x, 1) != (size_t)y;
        wrong_twin += direct_label(th, nv, nh, K, x, 0) != (size_t)y;
    }
    flexcl_metrics mt;
    CU_ASSERT_EQUAL(flexcl_model_evaluate(m, d, &mt), FLEXCL_OK);
    CU_ASSERT_DOUBLE_EQUAL(mt.error_rate, (double)wrong / (double)n, 1e-15);
    CU_ASSERT(wrong < 6 * n / 10); /* informative; chance is 0.9 */
    printf("\n  label error %.4f (%zu of %zu rows), twin %.4f\n", mt.error_rate, wrong, n,
           (double)wrong_twin / (double)n);
    CU_ASSERT(wrong_twin == n - count[0]);          /* the twin: always label 0 */
    CU_ASSERT(fabs(mt.error_rate - (double)wrong_twin / (double)n) > 0.2);
    free(mean);
    flexcl_model_destroy(&m);
    flexcl_data_destroy(&d);
}

static void test_too_large_for_exact(void)
{
    flexcl_model *m = make_rbm(4, 30, 1, 0.01, 1);
    double lz;
    CU_ASSERT_EQUAL(flexcl_rbm_log_z(m, &lz), FLEXCL_ERR_UNSUPPORTED);
    flexcl_model_destroy(&m);
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS) return 1;
    test_case cases[] = {{"log_z_3x2_brute_force", test_log_z},
                         {"exact_gradient_finite_differences", test_exact_gradient},
                         {"gibbs_4x3_chi_square", test_gibbs_chi_square},
                         {"exact_sampler_chi_square", test_exact_sampler_chi_square},
                         {"gibbs_batched_path_chi_square", test_gibbs_batched_chi_square},
                         {"bas_nll_above_floor", test_bas_floor},
                         {"label_error_direct_posterior", test_label_error},
                         {"exact_refuses_large", test_too_large_for_exact}};
    if (add_suite("rbm", cases, sizeof cases / sizeof *cases)) return 1;
    return run_all() ? 1 : 0;
}
