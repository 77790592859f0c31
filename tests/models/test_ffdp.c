/* Gradient checks of the feed-forward learners (suite models):
 *  - Forward-Forward: each layer's local statistic G^± against central
 *    finite differences of that layer's loss term (relative error < 1e-6);
 *  - backprop through the MLP against central finite differences;
 *  - DPᵀ (α = 0, ½, 1) and original DP (α = ½): (1/β)(δ s̄ᵀ) → −∇ℓ as
 *    β → 0 with K >= L sweeps, the error shrinking about linearly in β,
 *    and a control that must fail: K = 1 sweep (< L layers) leaves the
 *    lower layers without an error signal, so the error stays O(1).
 * Everything is double precision with fixed Philox seeds: deterministic. */
#include <CUnit/Basic.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../test_util.h"
#include "flexcl/dualprop.h"
#include "flexcl/ff.h"
#include "flexcl/rng.h"

static double norm_diff(const double *a, const double *b, size_t n)
{
    double s = 0.0;
    for (size_t i = 0; i < n; ++i) s += (a[i] - b[i]) * (a[i] - b[i]);
    return sqrt(s);
}

static double norm(const double *a, size_t n)
{
    double s = 0.0;
    for (size_t i = 0; i < n; ++i) s += a[i] * a[i];
    return sqrt(s);
}

/* Forward-Forward ---------------------------------------------------------*/

static void test_ff_local_gradients(void)
{
    flexcl_ff_settings s;
    flexcl_ff_settings_default(&s);
    s.n_layers = 3;
    s.widths[0] = 14;
    s.widths[1] = 9;
    s.widths[2] = 7;
    s.widths[3] = 6;
    s.n_classes = 4;
    s.max_batch = 5;
    s.threshold = 0.3; /* near the initial goodness: unsaturated sigmoids */
    flexcl_ff *ff = NULL;
    CU_ASSERT_EQUAL_FATAL(flexcl_ff_create(&s, &ff), FLEXCL_OK);
    flexcl_stream st = flexcl_stream_make(11, 0, 0);
    flexcl_ff_init(ff, &st);
    double *th = flexcl_ff_params(ff);
    const size_t P = flexcl_ff_n_params(ff), B = 5, n0 = 14;
    for (size_t k = 0; k < P; ++k) th[k] *= 3.0; /* larger activity */
    double x[5 * 14];
    int lab[5] = {0, 1, 2, 3, 1};
    flexcl_stream_uniform(&st, 0, FLEXCL_RNG_MODEL, 0, B * n0, x);
    CU_ASSERT_EQUAL(flexcl_ff_overlay(ff, x, lab, B, x), FLEXCL_OK);
    double *g = calloc(P, sizeof *g), *fd = calloc(P, sizeof *fd);
    double lp[3], lm[3];
    const double h = 1e-5;
    for (int ph = 0; ph < 2; ++ph) {
        const flexcl_phase phase = ph ? FLEXCL_PHASE_POSITIVE : FLEXCL_PHASE_NEGATIVE;
        /* The statistic is −∇L⁺ (positive) or +∇L⁻ (negative). */
        const double sign = ph ? -1.0 : 1.0;
        memset(g, 0, P * sizeof *g);
        CU_ASSERT_EQUAL(flexcl_ff_phase(ff, x, B, phase, 1.0, g, NULL), FLEXCL_OK);
        for (size_t l = 0; l < s.n_layers; ++l) {
            const size_t lo = flexcl_ff_weight_offset(ff, l);
            const size_t hi = flexcl_ff_bias_offset(ff, l) + s.widths[l + 1];
            for (size_t k = lo; k < hi; ++k) {
                const double t0 = th[k];
                th[k] = t0 + h;
                flexcl_ff_phase(ff, x, B, phase, 0.0, NULL, lp);
                th[k] = t0 - h;
                flexcl_ff_phase(ff, x, B, phase, 0.0, NULL, lm);
                th[k] = t0;
                fd[k] = sign * (lp[l] - lm[l]) / (2.0 * h);
            }
            const double rel = norm_diff(g + lo, fd + lo, hi - lo) / norm(g + lo, hi - lo);
            printf("\n  ff %s layer %zu: |G| = %.3e, relative error vs FD = %.2e",
                   ph ? "positive" : "negative", l, norm(g + lo, hi - lo), rel);
            CU_ASSERT(norm(g + lo, hi - lo) > 1e-6);
            CU_ASSERT(rel < 1e-6);
        }
    }
    /* The statistics are layer-local: the loss of layer 0 does not move
     * with layer 1's parameters. */
    {
        const size_t k = flexcl_ff_bias_offset(ff, 1);
        flexcl_ff_phase(ff, x, B, FLEXCL_PHASE_POSITIVE, 0.0, NULL, lp);
        for (size_t j = 0; j < s.widths[2]; ++j) th[k + j] += 0.5;
        flexcl_ff_phase(ff, x, B, FLEXCL_PHASE_POSITIVE, 0.0, NULL, lm);
        CU_ASSERT_EQUAL(lp[0], lm[0]);
        CU_ASSERT_NOT_EQUAL(lp[1], lm[1]);
    }
    free(g);
    free(fd);
    flexcl_ff_destroy(&ff);
    CU_ASSERT_PTR_NULL(ff);
    flexcl_ff_destroy(&ff);
}

static void test_ff_overlay_and_errors(void)
{
    flexcl_ff_settings s;
    flexcl_ff_settings_default(&s);
    s.widths[0] = 12;
    s.widths[1] = 4;
    s.widths[2] = 3;
    s.n_classes = 3;
    s.max_batch = 2;
    flexcl_ff *ff = NULL;
    CU_ASSERT_EQUAL_FATAL(flexcl_ff_create(&s, &ff), FLEXCL_OK);
    double x[24], o[24];
    for (int i = 0; i < 24; ++i) x[i] = 0.01 * i;
    int lab[2] = {2, 0};
    CU_ASSERT_EQUAL(flexcl_ff_overlay(ff, x, lab, 2, o), FLEXCL_OK);
    CU_ASSERT_EQUAL(o[0], 0.0);
    CU_ASSERT_EQUAL(o[1], 0.0);
    CU_ASSERT_EQUAL(o[2], 0.11);  /* the row's maximum */
    CU_ASSERT_EQUAL(o[3], 0.03);
    CU_ASSERT_EQUAL(o[12], 0.23);
    CU_ASSERT_EQUAL(o[13], 0.0);
    lab[1] = 3;
    CU_ASSERT_EQUAL(flexcl_ff_overlay(ff, x, lab, 2, o), FLEXCL_ERR_ARG);
    CU_ASSERT_EQUAL(flexcl_ff_phase(ff, x, 3, FLEXCL_PHASE_POSITIVE, 1, NULL, NULL),
                    FLEXCL_ERR_ARG);
    flexcl_ff_destroy(&ff);
    s.n_classes = 13;
    CU_ASSERT_EQUAL(flexcl_ff_create(&s, &ff), FLEXCL_ERR_ARG);
    CU_ASSERT_PTR_NULL(ff);
}

/* MLP: backprop, DPᵀ, DP -----------------------------------------------------*/

enum { MB = 256, M0 = 10 };

static flexcl_dualprop *make_mlp(double *x, int *y)
{
    flexcl_dualprop_settings s;
    flexcl_dualprop_settings_default(&s);
    s.n_layers = 3;
    s.widths[0] = M0;
    s.widths[1] = 64;
    s.widths[2] = 48;
    s.widths[3] = 5;
    s.max_batch = MB;
    flexcl_dualprop *m = NULL;
    CU_ASSERT_EQUAL(flexcl_dualprop_create(&s, &m), FLEXCL_OK);
    if (!m) return NULL;
    flexcl_stream st = flexcl_stream_make(7, 0, 0);
    flexcl_dualprop_init(m, &st);
    double *th = flexcl_dualprop_params(m);
    for (size_t k = 0; k < flexcl_dualprop_n_params(m); ++k) th[k] *= 2.0;
    flexcl_stream_normal(&st, 0, FLEXCL_RNG_MODEL, 0, MB * M0, x);
    for (int r = 0; r < MB; ++r) y[r] = r % 5;
    return m;
}

static void test_backprop_vs_fd(void)
{
    double x[MB * M0];
    int y[MB];
    flexcl_dualprop *m = make_mlp(x, y);
    CU_ASSERT_PTR_NOT_NULL_FATAL(m);
    CU_ASSERT_EQUAL(flexcl_dualprop_set_rule(m, FLEXCL_MLP_BACKPROP, 0.5, 1, 1), FLEXCL_OK);
    const size_t P = flexcl_dualprop_n_params(m);
    double *g = calloc(P, sizeof *g), *fd = calloc(P, sizeof *fd), *th = flexcl_dualprop_params(m);
    double loss = 0, lp, lm;
    CU_ASSERT_EQUAL(flexcl_dualprop_gradient(m, x, y, MB, 1.0, g, &loss), FLEXCL_OK);
    const double h = 1e-5;
    for (size_t k = 0; k < P; ++k) {
        const double t0 = th[k];
        th[k] = t0 + h;
        flexcl_dualprop_forward(m, x, y, MB, NULL, &lp);
        th[k] = t0 - h;
        flexcl_dualprop_forward(m, x, y, MB, NULL, &lm);
        th[k] = t0;
        fd[k] = -(lp - lm) / (2.0 * h); /* ascent direction −∇ℓ */
    }
    const double rel = norm_diff(g, fd, P) / norm(g, P);
    printf("\n  backprop: loss %.4f, |g| = %.3e, relative error vs FD = %.2e",
           loss, norm(g, P), rel);
    CU_ASSERT(rel < 1e-6);
    free(g);
    free(fd);
    flexcl_dualprop_destroy(&m);
}

/* Relative error of the rule's direction against backprop. */
static double dp_error(flexcl_dualprop *m, const double *x, const int *y,
                       const double *gbp, flexcl_mlp_rule rule, double alpha,
                       double beta, int sweeps, double *g, size_t P)
{
    CU_ASSERT_EQUAL(flexcl_dualprop_set_rule(m, rule, alpha, beta, sweeps), FLEXCL_OK);
    memset(g, 0, P * sizeof *g);
    CU_ASSERT_EQUAL(flexcl_dualprop_gradient(m, x, y, MB, 1.0, g, NULL), FLEXCL_OK);
    return norm_diff(g, gbp, P) / norm(gbp, P);
}

static void check_limit(flexcl_mlp_rule rule, double alpha)
{
    double x[MB * M0];
    int y[MB];
    flexcl_dualprop *m = make_mlp(x, y);
    CU_ASSERT_PTR_NOT_NULL_FATAL(m);
    const size_t P = flexcl_dualprop_n_params(m);
    double *g = calloc(P, sizeof *g), *gbp = calloc(P, sizeof *gbp);
    flexcl_dualprop_set_rule(m, FLEXCL_MLP_BACKPROP, 0.5, 1, 1);
    flexcl_dualprop_gradient(m, x, y, MB, 1.0, gbp, NULL);
    static const double betas[] = {1.0, 0.3, 0.1, 0.03, 0.01, 1e-3, 1e-4, 1e-6};
    enum { NB = sizeof betas / sizeof betas[0] };
    double e[NB];
    const char *name = rule == FLEXCL_MLP_DPT ? "DPT" : "DP";
    printf("\n  %s alpha=%.1f K=8: ", name, alpha);
    for (int i = 0; i < NB; ++i) {
        e[i] = dp_error(m, x, y, gbp, rule, alpha, betas[i], 8, g, P);
        printf("b=%g:%.2e ", betas[i], e[i]);
    }
    /* About linear in β: over the decade 0.1 → 0.01 the error drops by a
     * factor >= 3 (slope 1 gives 10), and at β = 1e-6 the identity holds
     * to 1e-6 (the remaining error is rounding / β and kinks crossed). */
    const double slope = log(e[2] / e[4]) / log(betas[2] / betas[4]);
    printf(" slope(0.1..0.01)=%.2f", slope);
    CU_ASSERT(e[4] < e[2] / 3.0 || e[4] < 1e-9);
    CU_ASSERT(e[5] <= e[4] || e[5] < 1e-9);
    CU_ASSERT(e[NB - 1] < 1e-6);
    /* Same limit with K = L = 3 sweeps (enough for the nudge to reach
     * layer 1 in the fwK order). */
    const double e3 = dp_error(m, x, y, gbp, rule, alpha, 1e-6, 3, g, P);
    printf(" K=3,b=1e-6:%.2e", e3);
    CU_ASSERT(e3 < 1e-6);
    /* Control that must fail: K = 1 < L leaves W_0, W_1 without signal. */
    const double e1 = dp_error(m, x, y, gbp, rule, alpha, 1e-6, 1, g, P);
    printf(" control K=1:%.2e", e1);
    CU_ASSERT(e1 > 0.1);
    free(g);
    free(gbp);
    flexcl_dualprop_destroy(&m);
}

static void test_dpt_alpha0(void) { check_limit(FLEXCL_MLP_DPT, 0.0); }
static void test_dpt_alpha_half(void) { check_limit(FLEXCL_MLP_DPT, 0.5); }
static void test_dpt_alpha1(void) { check_limit(FLEXCL_MLP_DPT, 1.0); }
static void test_dp_alpha_half(void) { check_limit(FLEXCL_MLP_DP, 0.5); }

static void test_mlp_errors(void)
{
    flexcl_dualprop_settings s;
    flexcl_dualprop_settings_default(&s);
    flexcl_dualprop *m = NULL;
    s.alpha = 1.5;
    CU_ASSERT_EQUAL(flexcl_dualprop_create(&s, &m), FLEXCL_ERR_ARG);
    CU_ASSERT(strstr(flexcl_error_message(), "alpha") != NULL);
    s.alpha = 0.5;
    s.beta = 0.0;
    CU_ASSERT_EQUAL(flexcl_dualprop_create(&s, &m), FLEXCL_ERR_ARG);
    CU_ASSERT(strstr(flexcl_error_message(), "beta") != NULL);
    s.beta = 0.1;
    s.widths[3] = 1;
    CU_ASSERT_EQUAL(flexcl_dualprop_create(&s, &m), FLEXCL_ERR_ARG);
    CU_ASSERT_PTR_NULL(m);
    flexcl_dualprop_destroy(&m);
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS) return 1;
    test_case cases[] = {
        {"ff_local_gradients_vs_fd", test_ff_local_gradients},
        {"ff_overlay_and_errors", test_ff_overlay_and_errors},
        {"backprop_vs_fd", test_backprop_vs_fd},
        {"dpt_alpha0_limit", test_dpt_alpha0},
        {"dpt_alpha_half_limit", test_dpt_alpha_half},
        {"dpt_alpha1_limit", test_dpt_alpha1},
        {"dp_alpha_half_limit", test_dp_alpha_half},
        {"mlp_errors", test_mlp_errors},
    };
    if (add_suite("ffdp", cases, sizeof cases / sizeof *cases)) return 1;
    return run_all() ? 1 : 0;
}
