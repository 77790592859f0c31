/* Equilibrium propagation under always-on learning: the drift of aol
 * (SPEC §2: the expected phase update differs from the ideal one by a term
 * of order η²), measured by the aol_bias experiment on a model without an
 * exact equilibrium sampler (drift only: runs A and B, no run C), suite
 * models.
 *
 *   layout    eqprop's aol_bias result has delta, frozen and drift and no
 *             equilibrium or transient (the model has no exact sampler);
 *   drift     the drift along the all-ones direction u (the mean over all
 *             parameters of Δθ_A − Δθ_B per phase) is positive, in both
 *             phase types, and grows as η²: the same job at η and 2η (same
 *             seed, hence the same rows and phase types) gives a slope
 *             log₂(D(2η)/D(η)) within Z SEs of 2. Twin that must fail: the
 *             slope of a first-order effect, 1, is more than Z SEs away.
 *
 * Why positive (docs/models.md, "The drift of EP under aol"): inside a
 * phase θ moves by (η/τ)w_z G per step, and G(θ_t) ≈ G(θ₀) + ∇G·(θ_t − θ₀),
 * so a phase adds ½η²w_z² ∇G·G: w_z² > 0 in both phase types, and EP's
 * Hebbian statistics (G_W = ρρᵀ ≥ 0, G_b = ρ ≥ 0) grow with θ.
 *
 * Statistics: 784-20-10 on the first 500 binarised Fashion-MNIST rows, b = ½,
 * fixed phases of τ = 20 steps, N = 300 phases from 2 persistent chains per
 * run, η = 0.0005, 0.001, 0.002 per phase. The law is leading-order,
 * D = A η² (1 + κη + …), so the slope between η and 2η is
 * s₁ = 2 + κη/ln 2 + O(η²) and between 2η and 4η s₂ = 2 + 2κη/ln 2: the
 * Richardson extrapolation s₀ = 2s₁ − s₂ is 2 up to O(η²). The statistical
 * unit is the seed: R = 6 seeds (independent rows, phase types and
 * initialisations), each giving D at the three rates on common numbers and
 * its s₀. Phases within one run are correlated (a free phase continues the
 * last state), which is why the run, not the phase, is the unit (batch means
 * inside a run gave SEs about half the spread across seeds). Verdicts: t
 * tests over the seeds with T = 6.87, P(|t₅| > 6.87) = 1e-3 two-sided, so a
 * false-fail rate of 1e-3 per assertion (0.5e-3 for the one-sided
 * positivity), 2.5e-3 for the three together; deterministic for a given
 * build.
 */
#include <CUnit/Basic.h>
#include <math.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../test_util.h"
#include "fmnist.h"
#include "flexcl/experiment.h"
#include "flexcl/job.h"
#include "flexcl/model.h"
#include "flexcl/rng.h"

enum { ROWS = 500, N = 300, CHAINS = 2, R = 6 };
static const double T5 = 6.87;   /* P(|t_5| > T5) = 1e-3 */
static const double ETA = 0.0005; /* per phase; the step rate is ETA/τ */
static flexcl_data *data;

static flexcl_settings settings(double eta, uint64_t seed)
{
    flexcl_settings s;
    flexcl_settings_default(&s);
    s.run.seed = seed;
    s.run.experiment = FLEXCL_EXP_AOL_BIAS;
    s.run.samples = N;
    s.run.chains = CHAINS;
    s.run.raw_samples = N;
    snprintf(s.model.kind, sizeof s.model.kind, "eqprop");
    snprintf(s.model.hidden, sizeof s.model.hidden, "20");
    s.model.beta = 1.0;
    s.model.epsilon = 0.5;
    s.model.init_sigma = 0.05;
    s.estimator.kind = FLEXCL_EST_AOL;
    s.estimator.b = 0.5;
    s.estimator.tau = 20;
    s.estimator.law = FLEXCL_LAW_FIXED;
    s.estimator.eta = eta;
    return s;
}

typedef struct {
    flexcl_experiment_result *r;
    size_t P;
    double *u_drift;  /* per phase: mean over parameters of the drift */
    uint64_t *z;      /* per phase: 1 positive, 0 negative */
} run;

/* Run the job at η and keep the per-phase projections on u. */
static int run_at(double eta, uint64_t seed, run *out)
{
    memset(out, 0, sizeof *out);
    flexcl_settings s = settings(eta, seed);
    flexcl_model *m = NULL;
    flexcl_stream init = flexcl_stream_make(s.run.seed, 0, 0);
    if (flexcl_model_create(&s.model, flexcl_data_dim(data), flexcl_data_classes(data), &init,
                            &m) != FLEXCL_OK ||
        flexcl_experiment_run(MPI_COMM_WORLD, &s, 0, data, m, &out->r) != FLEXCL_OK) {
        fprintf(stderr, "aol_bias on eqprop: %s\n", flexcl_error_message());
        flexcl_model_destroy(&m);
        return 0;
    }
    out->P = flexcl_model_n_params(m);
    flexcl_model_destroy(&m);
    uint64_t first = 0, rows = 0;
    const double *raw = flexcl_experiment_raw(out->r, "drift", &first, &rows);
    const uint64_t *z = flexcl_experiment_raw_z(out->r);
    if (!raw || !z || first != 0 || rows != N) {
        fprintf(stderr, "aol_bias on eqprop: no drift samples 0..%d on this rank\n", N);
        return 0;
    }
    out->u_drift = calloc(N, sizeof *out->u_drift);
    out->z = calloc(N, sizeof *out->z);
    for (size_t n = 0; n < N; ++n) {
        double acc = 0.0;
        for (size_t q = 0; q < out->P; ++q) acc += raw[n * out->P + q];
        out->u_drift[n] = acc / (double)out->P;
        out->z[n] = z[n];
    }
    return 1;
}

static void run_free(run *r)
{
    flexcl_experiment_result_destroy(&r->r);
    free(r->u_drift);
    free(r->z);
}

static double mean_of(const double *x, int n)
{
    double m = 0.0;
    for (int i = 0; i < n; ++i) m += x[i];
    return m / n;
}

/* Mean of x[0..n) over its standard error. */
static double t_of(const double *x, int n, double *mean, double *se)
{
    double m = mean_of(x, n), v = 0.0;
    for (int i = 0; i < n; ++i) v += (x[i] - m) * (x[i] - m);
    *mean = m;
    *se = sqrt(v / (n - 1) / n);
    return m / *se;
}

static void test_drift(void)
{
    double u[R], s0[R], pos_all = 1.0, neg_all = 1.0;
    for (int k = 0; k < R; ++k) {
        run a, b, c;
        uint64_t seed = 31 + (uint64_t)k;
        CU_ASSERT_FATAL(run_at(ETA, seed, &a));
        CU_ASSERT_FATAL(run_at(2 * ETA, seed, &b));
        CU_ASSERT_FATAL(run_at(4 * ETA, seed, &c));
        if (k == 0) { /* layout: drift only */
            CU_ASSERT_PTR_NOT_NULL(flexcl_experiment_moments(a.r, "delta"));
            CU_ASSERT_PTR_NOT_NULL(flexcl_experiment_moments(a.r, "frozen"));
            CU_ASSERT_PTR_NOT_NULL(flexcl_experiment_moments(a.r, "drift"));
            CU_ASSERT_PTR_NULL(flexcl_experiment_moments(a.r, "equilibrium"));
            CU_ASSERT_PTR_NULL(flexcl_experiment_moments(a.r, "transient"));
        }
        /* common numbers: the same rows and phase types at every rate */
        CU_ASSERT_EQUAL(memcmp(a.z, b.z, N * sizeof *a.z), 0);
        CU_ASSERT_EQUAL(memcmp(a.z, c.z, N * sizeof *a.z), 0);
        double ma = mean_of(a.u_drift, N), mb = mean_of(b.u_drift, N), mc = mean_of(c.u_drift, N);
        double pos = 0.0, neg = 0.0;
        int np = 0, nn = 0;
        for (size_t n = 0; n < N; ++n) {
            if (a.z[n]) pos += a.u_drift[n], np++;
            else neg += a.u_drift[n], nn++;
        }
        pos /= np > 0 ? np : 1;
        neg /= nn > 0 ? nn : 1;
        pos_all = fmin(pos_all, pos);
        neg_all = fmin(neg_all, neg);
        u[k] = ma;
        /* s₀ = 2s₁ − s₂ = (3 log D(2η) − 2 log D(η) − log D(4η)) / ln 2 */
        s0[k] = ma > 0 && mb > 0 && mc > 0 ? (3 * log(mb) - 2 * log(ma) - log(mc)) / log(2.0) : NAN;
        printf("\n    seed %llu: drift along u per phase %.3e, %.3e, %.3e at eta %g, %g, %g "
               "(%d positive phases %.4e, %d negative %.4e); slopes %.3f, %.3f, s0 %.3f",
               (unsigned long long)seed, ma, mb, mc, ETA, 2 * ETA, 4 * ETA, np, pos, nn, neg,
               log(mb / ma) / log(2.0), log(mc / mb) / log(2.0), s0[k]);
        run_free(&a);
        run_free(&b);
        run_free(&c);
    }
    double mu, su, ms, ss;
    double tu = t_of(u, R, &mu, &su);
    t_of(s0, R, &ms, &ss);
    printf("\n    over %d seeds: drift %.3e (SE %.1e, t %.1f); s0 %.4f (SE %.4f): |s0-2|/SE %.2f, "
           "twin |s0-1|/SE %.1f; threshold %.2f\n",
           R, mu, su, tu, ms, ss, fabs(ms - 2.0) / ss, fabs(ms - 1.0) / ss, T5);
    CU_ASSERT(tu > T5);
    CU_ASSERT(pos_all > 0.0 && neg_all > 0.0); /* every seed, both phase types */
    CU_ASSERT(fabs(ms - 2.0) < T5 * ss);
    CU_ASSERT(fabs(ms - 1.0) > T5 * ss); /* twin: a first-order law is rejected */
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    data = fmnist_load(FMNIST "train-images-idx3-ubyte.gz", FMNIST "train-labels-idx1-ubyte.gz",
                       ROWS, 1);
    int rc = 1;
    if (data && CU_initialize_registry() == CUE_SUCCESS) {
        test_case cases[] = {{"drift", test_drift}};
        if (!add_suite("eqprop_aol", cases, sizeof cases / sizeof *cases)) rc = run_all() ? 1 : 0;
    }
    flexcl_data_destroy(&data);
    MPI_Finalize();
    return rc;
}
