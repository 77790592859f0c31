/* Equilibrium propagation (model.kind = eqprop, src/eqprop.c), suite models.
 *
 *   beta_limit    the EP update (1/β)(G^β − G⁰) at converged phases tends to
 *                 −∂L/∂θ, L = ½‖s*_out − y‖² at the free fixed point s*
 *                 (central finite differences), error ∝ β one-sided and ∝ β²
 *                 symmetric; twins that must fail: no 1/β scaling, an
 *                 unconverged free phase;
 *   beta_sign     β < 0: the same limit with the one-sided O(β) error
 *                 reversed (the ±β mean cancels it), symmetric nudging the
 *                 same update at −β; twin: the scale's sign dropped;
 *   energy        E falls at every step of a free relaxation (a projected
 *                 gradient step of a quadratic with ε below 2/λ_max); twin:
 *                 the nudged relaxation from the free fixed point raises E;
 *   state         state_get / state_set mid-phase (nudge level, bound rows,
 *                 θ changed by the caller) continues bitwise; twin: a restore
 *                 that drops the level diverges;
 *   memory        the per-example store as model memory: memory_get /
 *                 memory_set round trip bitwise into a model whose store is
 *                 not allocated yet (chain states set first), and training
 *                 continued on both (seen and new rows, mid-phase) stays
 *                 bitwise equal; twin: restoring the chains without the
 *                 memory diverges; bad lengths refused, n = 0 drops it, the
 *                 RBM has none;
 *   threads       a batched 784-500-10 run is bitwise the same at 1 and 2
 *                 OpenMP threads;
 *   fmnist        (test_eqprop_train) short training runs on bFMNIST.
 *
 * Everything here is deterministic (fixed seeds, no sampling): a tolerance is
 * an error bound from the analysis in the comment next to it, and the
 * false-fail rate is 0 on a given build (rounding differences between BLAS
 * builds are ~1e-15 relative, far inside every bound).
 */
#include <CUnit/Basic.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../test_util.h"
#include "flexcl/model.h"
#include "flexcl/rng.h"

/* 6-5-3 network, one example. */
enum { NI = 6, NH = 5, NO = 3 };

static flexcl_model *make_model(const char *hidden, size_t n_in, size_t n_out, double beta,
                                double eps, int symmetric, double sigma, uint64_t seed)
{
    flexcl_model_settings s;
    flexcl_model_settings_default(&s);
    snprintf(s.kind, sizeof s.kind, "eqprop");
    snprintf(s.hidden, sizeof s.hidden, "%s", hidden);
    s.beta = beta;
    s.epsilon = eps;
    s.symmetric = symmetric;
    s.init_sigma = sigma;
    flexcl_stream st = flexcl_stream_make(seed, 0, 0);
    flexcl_model *m = NULL;
    if (flexcl_model_create(&s, n_in + n_out, n_out, &st, &m) != FLEXCL_OK)
        fprintf(stderr, "eqprop create: %s\n", flexcl_error_message());
    return m;
}

/* Biases ~ U(0.2, 0.5) so that the fixed point is interior (no clipped unit):
 * then s*(θ) is smooth and finite differences are valid. */
static void set_biases(flexcl_model *m, uint64_t seed)
{
    flexcl_stream st = flexcl_stream_make(seed, 1, 0);
    double *th = flexcl_model_params(m);
    for (size_t i = 0; i < flexcl_model_n_blocks(m); ++i) {
        flexcl_param_block b = flexcl_model_block(m, i);
        if (b.name[0] != 'b') continue;
        for (size_t r = 0; r < b.rows; ++r)
            th[b.offset + r] = 0.2 + 0.3 * flexcl_stream_uniform1(&st, 0, FLEXCL_RNG_MODEL,
                                                                  b.offset + r);
    }
}

static float row[NI + NO];
static const float *rows1[1] = {row};

static void make_row(void)
{
    static const float x[NI] = {0.9f, 0.1f, 0.7f, 0.3f, 0.5f, 0.8f};
    memcpy(row, x, sizeof x);
    row[NI + 0] = 0.0f;
    row[NI + 1] = 1.0f;
    row[NI + 2] = 0.0f;
}

static void run_steps(flexcl_model *m, flexcl_chain *c, flexcl_phase ph, int n)
{
    flexcl_stream st = flexcl_stream_make(1, 0, 0);
    for (int t = 0; t < n; ++t) CU_ASSERT_EQUAL(flexcl_model_step(m, c, ph, &st, t), FLEXCL_OK);
}

/* Free fixed point from zero: a positive phase at nudge level 0. */
static void relax_free(flexcl_model *m, flexcl_chain *c, int steps)
{
    flexcl_stream st = flexcl_stream_make(1, 0, 0);
    CU_ASSERT_EQUAL(flexcl_model_chain_reset(m, c, rows1), FLEXCL_OK);
    CU_ASSERT_EQUAL(flexcl_model_phase_begin(m, c, FLEXCL_PHASE_POSITIVE, rows1, &st, 0),
                    FLEXCL_OK);
    CU_ASSERT_EQUAL(flexcl_model_nudge(m, c, 0.0), FLEXCL_OK);
    run_steps(m, c, FLEXCL_PHASE_POSITIVE, steps);
}

/* L(θ) = ½‖s*_out − y‖²; the state layout is x | y | s_1 … s_L | level | row. */
static double loss(flexcl_model *m, int steps)
{
    flexcl_chain *c = NULL;
    CU_ASSERT_EQUAL_FATAL(flexcl_chain_create(m, 1, &c), FLEXCL_OK);
    relax_free(m, c, steps);
    double st[NI + NO + NH + NO + 2];
    flexcl_chain_state(m, c, 0, st);
    double L = 0.0;
    for (int j = 0; j < NO; ++j) {
        double d = st[NI + NO + NH + j] - st[NI + j];
        L += 0.5 * d * d;
    }
    flexcl_chain_destroy(&c);
    return L;
}

/* The EP direction of one example: one-sided (1/β)(G^β − G⁰) with the free
 * phase then the nudged phase from the free fixed point; symmetric
 * (G^β − G^{−β})/(2β) with both nudged phases from the free fixed point. */
static void ep_direction(flexcl_model *m, int symmetric, int free_steps, int nudged_steps,
                         double *g)
{
    size_t P = flexcl_model_n_params(m);
    flexcl_chain *c = NULL, *c2 = NULL;
    flexcl_stream st = flexcl_stream_make(1, 0, 0);
    CU_ASSERT_EQUAL_FATAL(flexcl_chain_create(m, 1, &c), FLEXCL_OK);
    CU_ASSERT_EQUAL_FATAL(flexcl_chain_create(m, 1, &c2), FLEXCL_OK);
    memset(g, 0, P * sizeof *g);
    relax_free(m, c, free_steps);
    flexcl_chain_copy(c2, c);
    if (symmetric) {
        /* negative phase = nudged with −β */
        CU_ASSERT_EQUAL(flexcl_model_phase_begin(m, c, FLEXCL_PHASE_NEGATIVE, NULL, &st, 0),
                        FLEXCL_OK);
        run_steps(m, c, FLEXCL_PHASE_NEGATIVE, nudged_steps);
    }
    flexcl_model_stats_axpy(m, c, FLEXCL_PHASE_NEGATIVE, -1.0, g);
    CU_ASSERT_EQUAL(flexcl_model_phase_begin(m, c2, FLEXCL_PHASE_POSITIVE, rows1, &st, 0),
                    FLEXCL_OK);
    run_steps(m, c2, FLEXCL_PHASE_POSITIVE, nudged_steps);
    flexcl_model_stats_axpy(m, c2, FLEXCL_PHASE_POSITIVE, 1.0, g);
    flexcl_chain_destroy(&c);
    flexcl_chain_destroy(&c2);
}

/* −∂L/∂θ by central differences, h = 1e-5: truncation ~h²·L''' ~ 1e-10,
 * rounding ~1e-16/h ~ 1e-11 (relative to |∇L| ~ 0.1: < 1e-8). */
static void fd_gradient(flexcl_model *m, int steps, double *g)
{
    size_t P = flexcl_model_n_params(m);
    const double h = 1e-5;
    for (size_t q = 0; q < P; ++q) {
        double *th = flexcl_model_params(m);
        double keep = th[q];
        th[q] = keep + h;
        double lp = loss(m, steps);
        th = flexcl_model_params(m);
        th[q] = keep - h;
        double lm = loss(m, steps);
        th = flexcl_model_params(m);
        th[q] = keep;
        g[q] = -(lp - lm) / (2 * h);
    }
}

static double rel_err(const double *a, const double *b, size_t n)
{
    double num = 0.0, den = 0.0;
    for (size_t q = 0; q < n; ++q) {
        num += (a[q] - b[q]) * (a[q] - b[q]);
        den += b[q] * b[q];
    }
    return sqrt(num / den);
}

/* Converged phases: ε = 0.2 and 1500 steps. The coupling matrix has
 * spectral radius < 0.8 for these weights (σ = 0.3, 6-5-3), so a Jacobi step
 * contracts by ≤ 1 − ε(1 − 0.8) = 0.96: 0.96^1500 < 1e-26, converged to
 * rounding. */
enum { CONV = 1500 };

static void test_beta_limit(void)
{
    make_row();
    const double betas[3] = {0.1, 0.01, 0.001};
    for (int sym = 0; sym <= 1; ++sym) {
        double err[3];
        size_t P = 0;
        double *gfd = NULL, *gep = NULL;
        for (int k = 0; k < 3; ++k) {
            flexcl_model *m = make_model("5", NI, NO, betas[k], 0.2, sym, 0.3, 7);
            CU_ASSERT_PTR_NOT_NULL_FATAL(m);
            set_biases(m, 7);
            P = flexcl_model_n_params(m);
            if (!gfd) {
                gfd = malloc(P * sizeof *gfd);
                gep = malloc(P * sizeof *gep);
                fd_gradient(m, CONV, gfd);
            }
            ep_direction(m, sym, CONV, CONV, gep);
            err[k] = rel_err(gep, gfd, P);
            printf("\n  %s beta %-6g relative error %.3e", sym ? "symmetric" : "one-sided",
                   betas[k], err[k]);
            if (k == 2 && !sym) {
                /* Twin 1: without the 1/β scaling the update is β·(−∇L) + O(β²):
                 * relative error 1 − β ≈ 1. */
                for (size_t q = 0; q < P; ++q) gep[q] *= betas[k];
                double e1 = rel_err(gep, gfd, P);
                /* Twin 2: a free phase of 3 steps from zero is far from s*
                 * (0.96^3 ≈ 0.88 of the distance left). */
                ep_direction(m, sym, 3, CONV, gep);
                double e2 = rel_err(gep, gfd, P);
                printf("\n  twins: no 1/beta %.3e, 3-step free phase %.3e", e1, e2);
                CU_ASSERT(e1 > 0.5);
                CU_ASSERT(e2 > 0.5);
            }
            flexcl_model_destroy(&m);
        }
        /* Error analysis: one-sided err(β) = κ₁β + O(β²), symmetric
         * err(β) = κ₂β² + O(β⁴), with κ of order 1 for an order-1 network
         * (measured κ₁ ≈ err(0.01)/0.01). Tenfold smaller β must shrink the
         * error ≥ 5x (one-sided: ideal 10x) or ≥ 50x (symmetric: ideal 100x)
         * until the floor of the finite differences (~1e-8, see
         * fd_gradient); and the smallest β must be within 1 % (one-sided)
         * or 1e-4 (symmetric) of −∇L. */
        const double floor = 1e-7;
        for (int k = 1; k < 3; ++k)
            CU_ASSERT(err[k] < floor || err[k] < err[k - 1] / (sym ? 50.0 : 5.0));
        CU_ASSERT(err[2] < (sym ? 1e-4 : 1e-2));
        free(gfd);
        free(gep);
    }
    printf("\n");
}

/* The sign of β (a nudge away from the target instead of towards it):
 * one-sided, the update at −β is the same limit −∇L with the O(β) error
 * reversed, err(±β) = ±κ₁β v + O(β²), so (1) both are within 2 % of −∇L at
 * |β| = 0.01, (2) their errors point in opposite directions (negative inner
 * product), and (3) their mean cancels the O(β) term: at least 5x closer to
 * −∇L than either (ideal 1/(κ₁|β|) ≈ 100x; see test_beta_limit for κ₁).
 * Symmetric nudging is odd in β twice over ((G^β − G^{−β})/(2β)), so −β
 * gives the +β update up to rounding (relative 1e-10: the two phases' chains
 * swap roles, ~1e-15 per operation). A sign error anywhere (a nudge that
 * ignores the sign, a scale by |β|) flips the update: relative error ≈ 2. */
static void test_beta_sign(void)
{
    make_row();
    const double b = 0.01;
    flexcl_model *mp = make_model("5", NI, NO, b, 0.2, 0, 0.3, 7);
    flexcl_model *mm = make_model("5", NI, NO, -b, 0.2, 0, 0.3, 7);
    flexcl_model *sp = make_model("5", NI, NO, b, 0.2, 1, 0.3, 7);
    flexcl_model *sm = make_model("5", NI, NO, -b, 0.2, 1, 0.3, 7);
    CU_ASSERT_PTR_NOT_NULL_FATAL(mp);
    CU_ASSERT_PTR_NOT_NULL_FATAL(mm);
    CU_ASSERT_PTR_NOT_NULL_FATAL(sp);
    CU_ASSERT_PTR_NOT_NULL_FATAL(sm);
    set_biases(mp, 7);
    set_biases(mm, 7);
    set_biases(sp, 7);
    set_biases(sm, 7);
    size_t P = flexcl_model_n_params(mp);
    double *gfd = malloc(P * sizeof *gfd), *gp = malloc(P * sizeof *gp);
    double *gm = malloc(P * sizeof *gm), *avg = malloc(P * sizeof *avg);
    fd_gradient(mp, CONV, gfd);
    ep_direction(mp, 0, CONV, CONV, gp);
    ep_direction(mm, 0, CONV, CONV, gm);
    double dot = 0.0;
    for (size_t q = 0; q < P; ++q) {
        avg[q] = 0.5 * (gp[q] + gm[q]);
        dot += (gp[q] - gfd[q]) * (gm[q] - gfd[q]);
    }
    double ep = rel_err(gp, gfd, P), em = rel_err(gm, gfd, P), ea = rel_err(avg, gfd, P);
    ep_direction(sp, 1, CONV, CONV, gp);
    ep_direction(sm, 1, CONV, CONV, gm);
    double es = rel_err(gm, gp, P);
    printf("\n  one-sided beta +%g %.3e, -%g %.3e, mean %.3e, error inner product %.3e;"
           "\n  symmetric -beta vs +beta %.3e", b, ep, b, em, ea, dot, es);
    CU_ASSERT(ep < 2e-2);
    CU_ASSERT(em < 2e-2);
    CU_ASSERT(dot < 0.0);
    CU_ASSERT(ea < (ep < em ? ep : em) / 5.0);
    CU_ASSERT(es < 1e-10);
    /* Twin: the −β update taken as if β were +|β| (the scale's sign
     * dropped) points the other way. */
    for (size_t q = 0; q < P; ++q) gm[q] = -gm[q];
    double twin = rel_err(gm, gfd, P);
    printf("\n  twin (sign of the scale dropped): %.3e\n", twin);
    CU_ASSERT(twin > 1.5);
    free(gfd);
    free(gp);
    free(gm);
    free(avg);
    flexcl_model_destroy(&mp);
    flexcl_model_destroy(&mm);
    flexcl_model_destroy(&sp);
    flexcl_model_destroy(&sm);
}

/* E(s) = ½Σ‖s_k‖² − Σ b_k·s_k − Σ s_{l+1}ᵀ W_l s_l (states in [0, 1]) of
 * state b, from the documented layouts of θ and of a state. */
static double energy(flexcl_model *m, const double *state, size_t ni, size_t no)
{
    const double *th = flexcl_model_params_const(m);
    size_t nb = flexcl_model_n_blocks(m), L = nb / 2;
    const double *s = state + ni + no; /* s_1 … s_L */
    double E = 0.0;
    size_t off = 0;
    const double *prev = state; /* x */
    for (size_t l = 0; l < L; ++l) {
        flexcl_param_block W = flexcl_model_block(m, l);
        flexcl_param_block b = flexcl_model_block(m, L + l);
        const double *sk = s + off;
        for (size_t j = 0; j < W.rows; ++j) {
            E += 0.5 * sk[j] * sk[j] - th[b.offset + j] * sk[j];
            double d = 0.0;
            for (size_t i = 0; i < W.cols; ++i) d += th[W.offset + j * W.cols + i] * prev[i];
            E -= sk[j] * d;
        }
        prev = sk;
        off += W.rows;
    }
    return E;
}

static void test_energy(void)
{
    /* A 20-12-8-4 net with σ = 0.3 and random inputs; ε = 0.5 (the
     * authors'). The Hessian of E on the box is I − (coupling), with
     * eigenvalues in (0, 2) here (coupling spectral radius < 1), so a
     * projected gradient step with ε = 0.5 < 2/λ_max never raises E; the
     * tolerance 1e-12·(1 + |E|) is rounding. */
    const size_t ni = 20, no = 4;
    flexcl_model *m = make_model("12,8", ni, no, 1.0, 0.5, 0, 0.3, 11);
    CU_ASSERT_PTR_NOT_NULL_FATAL(m);
    set_biases(m, 11);
    float r[24];
    flexcl_stream st = flexcl_stream_make(3, 0, 0);
    for (size_t i = 0; i < ni; ++i) r[i] = (float)flexcl_stream_uniform1(&st, 0, 1, i);
    for (size_t j = 0; j < no; ++j) r[ni + j] = j == 1 ? 1.0f : 0.0f;
    const float *rr[1] = {r};
    flexcl_chain *c = NULL;
    CU_ASSERT_EQUAL_FATAL(flexcl_chain_create(m, 1, &c), FLEXCL_OK);
    CU_ASSERT_EQUAL(flexcl_model_chain_reset(m, c, rr), FLEXCL_OK);
    size_t S = flexcl_model_state_size(m);
    double *state = malloc(S * sizeof *state);
    flexcl_chain_state(m, c, 0, state);
    double E = energy(m, state, ni, no), E0 = E;
    int rises = 0;
    for (int t = 0; t < 60; ++t) {
        CU_ASSERT_EQUAL(flexcl_model_step(m, c, FLEXCL_PHASE_NEGATIVE, &st, t), FLEXCL_OK);
        flexcl_chain_state(m, c, 0, state);
        double En = energy(m, state, ni, no);
        if (En > E + 1e-12 * (1.0 + fabs(E))) rises++;
        E = En;
    }
    printf("\n  free relaxation: E %.6f -> %.6f, %d rises", E0, E, rises);
    CU_ASSERT_EQUAL(rises, 0);
    CU_ASSERT(E < E0);
    /* Twin: from the free minimum, the nudged phase (β = 1) must raise E. */
    double Efree = E;
    CU_ASSERT_EQUAL(flexcl_model_phase_begin(m, c, FLEXCL_PHASE_POSITIVE, rr, &st, 0), FLEXCL_OK);
    run_steps(m, c, FLEXCL_PHASE_POSITIVE, 60);
    flexcl_chain_state(m, c, 0, state);
    double Enudged = energy(m, state, ni, no);
    printf("\n  twin: nudged relaxation raises E %.6f -> %.6f\n", Efree, Enudged);
    CU_ASSERT(Enudged > Efree + 1e-9);
    free(state);
    flexcl_chain_destroy(&c);
    flexcl_model_destroy(&m);
}

/* Random rows of ni pixels in [0, 1] and a one-hot block of no classes. */
static float *random_rows(size_t B, size_t ni, size_t no, uint64_t seed, const float ***rp)
{
    float *d = malloc(B * (ni + no) * sizeof *d);
    const float **r = malloc(B * sizeof *r);
    flexcl_stream st = flexcl_stream_make(seed, 2, 0);
    for (size_t b = 0; b < B; ++b) {
        for (size_t i = 0; i < ni; ++i)
            d[b * (ni + no) + i] =
                flexcl_stream_uniform1(&st, b, FLEXCL_RNG_DATA, i) > 0.7 ? 1.0f : 0.0f;
        for (size_t j = 0; j < no; ++j) d[b * (ni + no) + ni + j] = (j == b % no) ? 1.0f : 0.0f;
        r[b] = d + b * (ni + no);
    }
    *rp = r;
    return d;
}

static void test_state(void)
{
    const size_t ni = 30, no = 4, B = 3;
    flexcl_model *m = make_model("10", ni, no, 0.5, 0.5, 0, 0.2, 5);
    CU_ASSERT_PTR_NOT_NULL_FATAL(m);
    const float **r = NULL;
    float *d = random_rows(B, ni, no, 5, &r);
    flexcl_stream st = flexcl_stream_make(1, 0, 0);
    flexcl_chain *a = NULL, *b = NULL, *t = NULL;
    CU_ASSERT_EQUAL_FATAL(flexcl_chain_create(m, B, &a), FLEXCL_OK);
    CU_ASSERT_EQUAL_FATAL(flexcl_chain_create(m, B, &b), FLEXCL_OK);
    CU_ASSERT_EQUAL_FATAL(flexcl_chain_create(m, B, &t), FLEXCL_OK);
    size_t idx[3] = {7, 2, 11};
    CU_ASSERT_EQUAL(flexcl_model_bind_rows(m, a, idx, 12), FLEXCL_OK);
    CU_ASSERT_EQUAL(flexcl_model_chain_reset(m, a, r), FLEXCL_OK);
    run_steps(m, a, FLEXCL_PHASE_NEGATIVE, 5);
    CU_ASSERT_EQUAL(flexcl_model_phase_begin(m, a, FLEXCL_PHASE_POSITIVE, r, &st, 0), FLEXCL_OK);
    CU_ASSERT_EQUAL(flexcl_model_nudge(m, a, 0.5), FLEXCL_OK);
    run_steps(m, a, FLEXCL_PHASE_POSITIVE, 3);
    size_t S = flexcl_model_state_size(m), P = flexcl_model_n_params(m);
    double *sa = malloc(B * S * sizeof *sa), *sb = malloc(B * S * sizeof *sb);
    for (size_t k = 0; k < B; ++k) flexcl_chain_state(m, a, k, sa + k * S);
    for (size_t k = 0; k < B; ++k) CU_ASSERT_EQUAL(flexcl_chain_set_state(m, b, k, sa + k * S), FLEXCL_OK);
    /* Twin: the same restore without the nudge level (slot S − 2 set to 1). */
    for (size_t k = 0; k < B; ++k) {
        double tmp[64];
        memcpy(tmp, sa + k * S, S * sizeof *tmp);
        tmp[S - 2] = 1.0;
        CU_ASSERT_EQUAL(flexcl_chain_set_state(m, t, k, tmp), FLEXCL_OK);
    }
    /* The caller changes θ (as an optimiser does) while the chains run on. */
    double *g = calloc(P, sizeof *g);
    flexcl_model_stats_axpy(m, a, FLEXCL_PHASE_POSITIVE, 1.0, g);
    double *th = flexcl_model_params(m);
    for (size_t q = 0; q < P; ++q) th[q] += 0.01 * g[q];
    free(g);
    flexcl_chain *cs[3] = {a, b, t};
    for (int i = 0; i < 3; ++i) {
        run_steps(m, cs[i], FLEXCL_PHASE_POSITIVE, 4);
        run_steps(m, cs[i], FLEXCL_PHASE_NEGATIVE, 4);
    }
    for (size_t k = 0; k < B; ++k) flexcl_chain_state(m, a, k, sa + k * S);
    for (size_t k = 0; k < B; ++k) flexcl_chain_state(m, b, k, sb + k * S);
    CU_ASSERT_EQUAL(memcmp(sa, sb, B * S * sizeof *sa), 0);
    for (size_t k = 0; k < B; ++k) flexcl_chain_state(m, t, k, sb + k * S);
    CU_ASSERT_NOT_EQUAL(memcmp(sa, sb, B * S * sizeof *sa), 0);
    /* The bound rows are part of the state: row 11 of chain state 2. */
    CU_ASSERT_EQUAL(sa[2 * S + S - 1], 11.0);
    free(sa);
    free(sb);
    free(d);
    free(r);
    flexcl_chain_destroy(&a);
    flexcl_chain_destroy(&b);
    flexcl_chain_destroy(&t);
    flexcl_model_destroy(&m);
}

/* One two_term-like update on data rows idx[B] of rows: bind, nudged phase
 * from the stored states, then reset and free phase (writes the store). */
static void ep_cycle(flexcl_model *m, flexcl_chain *c, const float *const *rows,
                     const size_t *idx, size_t B, size_t n_rows)
{
    const float *r[8];
    flexcl_stream st = flexcl_stream_make(1, 0, 0);
    for (size_t b = 0; b < B; ++b) r[b] = rows[idx[b]];
    CU_ASSERT_EQUAL(flexcl_model_bind_rows(m, c, idx, n_rows), FLEXCL_OK);
    CU_ASSERT_EQUAL(flexcl_model_phase_begin(m, c, FLEXCL_PHASE_POSITIVE, r, &st, 0), FLEXCL_OK);
    run_steps(m, c, FLEXCL_PHASE_POSITIVE, 4);
    CU_ASSERT_EQUAL(flexcl_model_chain_reset(m, c, r), FLEXCL_OK);
    run_steps(m, c, FLEXCL_PHASE_NEGATIVE, 4);
}

static void test_memory(void)
{
    enum { N = 12, B = 3 };
    const size_t ni = 30, no = 4;
    flexcl_model *ms[3] = {NULL, NULL, NULL}; /* original, restored, twin */
    flexcl_chain *cs[3] = {NULL, NULL, NULL};
    for (int i = 0; i < 3; ++i) {
        ms[i] = make_model("10", ni, no, 0.5, 0.5, 0, 0.2, 5); /* the same θ */
        CU_ASSERT_PTR_NOT_NULL_FATAL(ms[i]);
        CU_ASSERT_EQUAL_FATAL(flexcl_chain_create(ms[i], B, &cs[i]), FLEXCL_OK);
        CU_ASSERT_EQUAL(flexcl_model_memory_size(ms[i]), 0); /* no store before a binding */
    }
    const float **r = NULL;
    float *d = random_rows(N, ni, no, 7, &r);
    const size_t U = 10 + 4, M = N * U, S = flexcl_model_state_size(ms[0]);
    const size_t i0[B] = {0, 1, 2}, i1[B] = {3, 4, 5}, i2[B] = {6, 0, 7}, i3[B] = {8, 6, 1};
    /* The original: two updates, then a free phase stopped half way. */
    ep_cycle(ms[0], cs[0], r, i0, B, N);
    ep_cycle(ms[0], cs[0], r, i1, B, N);
    const float *r2[B] = {r[6], r[0], r[7]};
    CU_ASSERT_EQUAL(flexcl_model_bind_rows(ms[0], cs[0], i2, N), FLEXCL_OK);
    CU_ASSERT_EQUAL(flexcl_model_chain_reset(ms[0], cs[0], r2), FLEXCL_OK);
    run_steps(ms[0], cs[0], FLEXCL_PHASE_NEGATIVE, 3);
    CU_ASSERT_EQUAL_FATAL(flexcl_model_memory_size(ms[0]), M);
    double *mem = malloc(M * sizeof *mem), *mem2 = malloc(M * sizeof *mem2);
    double *st = malloc(B * S * sizeof *st), *st2 = malloc(B * S * sizeof *st2);
    flexcl_model_memory_get(ms[0], mem);
    size_t nonzero = 0;
    for (size_t q = 0; q < M; ++q) nonzero += mem[q] != 0.0;
    CU_ASSERT(nonzero > 0); /* rows 0..5 were relaxed */
    /* Restore: chain states first (the store does not exist yet), then the
     * memory; the twin gets the chain states only. */
    for (size_t k = 0; k < B; ++k) flexcl_chain_state(ms[0], cs[0], k, st + k * S);
    for (int i = 1; i < 3; ++i)
        for (size_t k = 0; k < B; ++k)
            CU_ASSERT_EQUAL(flexcl_chain_set_state(ms[i], cs[i], k, st + k * S), FLEXCL_OK);
    CU_ASSERT_EQUAL(flexcl_model_memory_set(ms[1], mem, M), FLEXCL_OK);
    CU_ASSERT_EQUAL_FATAL(flexcl_model_memory_size(ms[1]), M);
    flexcl_model_memory_get(ms[1], mem2);
    CU_ASSERT_EQUAL(memcmp(mem, mem2, M * sizeof *mem), 0);
    /* Go on: the rest of the free phase, then updates on seen and new rows. */
    for (int i = 0; i < 3; ++i) {
        run_steps(ms[i], cs[i], FLEXCL_PHASE_NEGATIVE, 3);
        ep_cycle(ms[i], cs[i], r, i0, B, N);
        ep_cycle(ms[i], cs[i], r, i3, B, N);
    }
    for (size_t k = 0; k < B; ++k) flexcl_chain_state(ms[0], cs[0], k, st + k * S);
    for (size_t k = 0; k < B; ++k) flexcl_chain_state(ms[1], cs[1], k, st2 + k * S);
    CU_ASSERT_EQUAL(memcmp(st, st2, B * S * sizeof *st), 0);
    flexcl_model_memory_get(ms[0], mem);
    flexcl_model_memory_get(ms[1], mem2);
    CU_ASSERT_EQUAL(memcmp(mem, mem2, M * sizeof *mem), 0);
    /* Twin: without the memory the same steps end elsewhere. */
    for (size_t k = 0; k < B; ++k) flexcl_chain_state(ms[2], cs[2], k, st2 + k * S);
    CU_ASSERT_NOT_EQUAL(memcmp(st, st2, B * S * sizeof *st), 0);
    /* Lengths: not whole states refused (memory unchanged), 0 drops it. */
    CU_ASSERT_EQUAL(flexcl_model_memory_set(ms[1], mem, M - 1), FLEXCL_ERR_ARG);
    CU_ASSERT_EQUAL(flexcl_model_memory_size(ms[1]), M);
    CU_ASSERT_EQUAL(flexcl_model_memory_set(ms[1], NULL, 0), FLEXCL_OK);
    CU_ASSERT_EQUAL(flexcl_model_memory_size(ms[1]), 0);
    /* A smaller store than the bound rows: those rows count as unbound. */
    CU_ASSERT_EQUAL(flexcl_model_memory_set(ms[1], mem, 2 * U), FLEXCL_OK);
    CU_ASSERT_EQUAL(flexcl_model_memory_size(ms[1]), 2 * U);
    run_steps(ms[1], cs[1], FLEXCL_PHASE_NEGATIVE, 2);
    /* The RBM has no model memory. */
    flexcl_model_settings rs;
    flexcl_model_settings_default(&rs);
    flexcl_stream init = flexcl_stream_make(1, 0, 0);
    flexcl_model *rbm = NULL;
    CU_ASSERT_EQUAL_FATAL(flexcl_model_create(&rs, 10, 0, &init, &rbm), FLEXCL_OK);
    CU_ASSERT_EQUAL(flexcl_model_memory_size(rbm), 0);
    CU_ASSERT_EQUAL(flexcl_model_memory_set(rbm, NULL, 0), FLEXCL_OK);
    CU_ASSERT_EQUAL(flexcl_model_memory_set(rbm, mem, 5), FLEXCL_ERR_UNSUPPORTED);
    flexcl_model_destroy(&rbm);
    for (int i = 0; i < 3; ++i) {
        flexcl_chain_destroy(&cs[i]);
        flexcl_model_destroy(&ms[i]);
    }
    free(mem);
    free(mem2);
    free(st);
    free(st2);
    free(d);
    free(r);
}

/* A 784-500-10 chain of 64 states (large enough that the GEMMs run on
 * several threads): 6 nudged and 6 free steps, stats; returns the final
 * states and the direction. */
static void threads_run(int threads, double *states, double *g)
{
    omp_set_num_threads(threads);
    flexcl_model *m = make_model("500", 784, 10, 0.5, 0.5, 0, 0.05, 3);
    const size_t B = 64;
    const float **r = NULL;
    float *d = random_rows(B, 784, 10, 9, &r);
    flexcl_chain *c = NULL;
    flexcl_stream st = flexcl_stream_make(1, 0, 0);
    CU_ASSERT_EQUAL_FATAL(flexcl_chain_create(m, B, &c), FLEXCL_OK);
    CU_ASSERT_EQUAL(flexcl_model_phase_begin(m, c, FLEXCL_PHASE_POSITIVE, r, &st, 0), FLEXCL_OK);
    run_steps(m, c, FLEXCL_PHASE_POSITIVE, 6);
    size_t P = flexcl_model_n_params(m), S = flexcl_model_state_size(m);
    memset(g, 0, P * sizeof *g);
    flexcl_model_stats_axpy(m, c, FLEXCL_PHASE_POSITIVE, 1.0, g);
    CU_ASSERT_EQUAL(flexcl_model_chain_reset(m, c, r), FLEXCL_OK);
    run_steps(m, c, FLEXCL_PHASE_NEGATIVE, 6);
    flexcl_model_stats_axpy(m, c, FLEXCL_PHASE_NEGATIVE, -1.0, g);
    for (size_t b = 0; b < B; ++b) flexcl_chain_state(m, c, b, states + b * S);
    flexcl_chain_destroy(&c);
    flexcl_model_destroy(&m);
    free(d);
    free(r);
}

static void test_threads(void)
{
    const size_t P = 500 * 784 + 10 * 500 + 500 + 10, S = 784 + 10 + 510 + 2, B = 64;
    double *s1 = malloc(B * S * sizeof *s1), *s2 = malloc(B * S * sizeof *s2);
    double *g1 = malloc(P * sizeof *g1), *g2 = malloc(P * sizeof *g2);
    int keep = omp_get_max_threads();
    threads_run(1, s1, g1);
    threads_run(2, s2, g2);
    omp_set_num_threads(keep);
    CU_ASSERT_EQUAL(memcmp(s1, s2, B * S * sizeof *s1), 0);
    CU_ASSERT_EQUAL(memcmp(g1, g2, P * sizeof *g1), 0);
    double n = 0.0;
    for (size_t q = 0; q < P; ++q) n += g1[q] * g1[q];
    CU_ASSERT(n > 0.0); /* the runs did something */
    free(s1);
    free(s2);
    free(g1);
    free(g2);
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS) return 1;
    static const test_case cases[] = {
        {"beta_limit", test_beta_limit},
        {"beta_sign", test_beta_sign},
        {"energy", test_energy},
        {"state", test_state},
        {"memory", test_memory},
        {"threads", test_threads},
    };
    if (add_suite("eqprop", cases, sizeof cases / sizeof cases[0])) return 1;
    return run_all();
}
