/* Learners under MPI (run at 1 and 2 ranks): bitwise-equal parameters after
 * averaging, results independent of the OpenMP thread count, independent
 * replicas without averaging, and the estimators' clocks. */
#include <mpi.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "../test_util.h"
#include "flexcl/flexcl.h"

static flexcl_data *bas;

static flexcl_learner *make(int L, uint64_t A, flexcl_estimator_kind kind,
                            flexcl_phase_law law, int same_init)
{
    flexcl_learner_settings ls;
    flexcl_learner_settings_default(&ls);
    ls.seed = 17;
    ls.point = 3;
    ls.learners_per_rank = L;
    ls.average_every = A;
    flexcl_model_settings ms;
    flexcl_estimator_settings es;
    flexcl_optim_settings os;
    flexcl_model_settings_default(&ms);
    flexcl_estimator_settings_default(&es);
    flexcl_optim_settings_default(&os);
    es.kind = kind;
    es.law = law;
    es.tau = 20;
    es.eta = 0.05;
    flexcl_learner *l = NULL;
    CU_ASSERT_EQUAL(flexcl_learner_create(MPI_COMM_WORLD, &ls, &ms, &es, &os, bas, same_init, &l),
                    FLEXCL_OK);
    return l;
}

/* 1 when every learner on every rank holds bitwise the same θ. */
static int all_equal(flexcl_learner *l)
{
    size_t P = flexcl_model_n_params(flexcl_learner_model(l, 0));
    double *ref = malloc(P * sizeof *ref);
    int rank, ok = 1, all = 0;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    memcpy(ref, flexcl_model_params(flexcl_learner_model(l, 0)), P * sizeof *ref);
    MPI_Bcast(ref, (int)P, MPI_DOUBLE, 0, MPI_COMM_WORLD);
    for (int i = 0; i < flexcl_learner_local_count(l); ++i)
        ok &= memcmp(ref, flexcl_model_params(flexcl_learner_model(l, i)), P * sizeof *ref) == 0;
    MPI_Allreduce(&ok, &all, 1, MPI_INT, MPI_LAND, MPI_COMM_WORLD);
    free(ref);
    return all;
}

static void test_averaging_bitwise(void)
{
    flexcl_learner *l = make(2, 50, FLEXCL_EST_ISD, FLEXCL_LAW_GEOMETRIC, 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(l);
    CU_ASSERT_EQUAL(flexcl_learner_advance(l, 1000), FLEXCL_OK);
    CU_ASSERT_TRUE(all_equal(l)); /* 1000 is a multiple of 50: just averaged */
    CU_ASSERT_EQUAL(flexcl_learner_advance(l, 30), FLEXCL_OK);
    CU_ASSERT_FALSE(all_equal(l)); /* 30 steps after: the cores drifted apart */
    flexcl_learner_destroy(&l);
    CU_ASSERT_PTR_NULL(l);
}

static void test_independent_without_averaging(void)
{
    flexcl_learner *l = make(2, 0, FLEXCL_EST_AOL, FLEXCL_LAW_GEOMETRIC, 1);
    CU_ASSERT_TRUE(all_equal(l)); /* same_init: equal at the start */
    CU_ASSERT_EQUAL(flexcl_learner_advance(l, 500), FLEXCL_OK);
    CU_ASSERT_FALSE(all_equal(l));
    flexcl_learner_destroy(&l);
}

/* Run 4 local learners for 2000 steps with the given thread count. */
static double *run_threads(int threads)
{
    omp_set_num_threads(threads);
    flexcl_learner *l = make(4, 0, FLEXCL_EST_AOL, FLEXCL_LAW_GEOMETRIC, 0);
    flexcl_learner_advance(l, 2000);
    size_t P = flexcl_model_n_params(flexcl_learner_model(l, 0));
    double *out = malloc(4 * P * sizeof *out);
    for (int i = 0; i < 4; ++i)
        memcpy(out + (size_t)i * P, flexcl_model_params(flexcl_learner_model(l, i)), P * sizeof *out);
    flexcl_learner_destroy(&l);
    return out;
}

static void test_thread_count_invariance(void)
{
    double *a = run_threads(1), *b = run_threads(2);
    size_t P = 16 * 16 + 16 + 16;
    CU_ASSERT_EQUAL(memcmp(a, b, 4 * P * sizeof *a), 0);
    free(a);
    free(b);
    omp_set_num_threads(1);
}

static void test_clocks(void)
{
    /* two_term: one update per two phases; isd: one per phase; aol: one per step. */
    flexcl_learner *l = make(1, 0, FLEXCL_EST_TWO_TERM, FLEXCL_LAW_FIXED, 1);
    flexcl_learner_advance(l, 400);
    CU_ASSERT_EQUAL(flexcl_learner_steps(l, 0), 400);
    CU_ASSERT_EQUAL(flexcl_learner_phases(l, 0), 20);
    CU_ASSERT_EQUAL(flexcl_learner_updates(l, 0), 10);
    flexcl_learner_destroy(&l);
    l = make(1, 0, FLEXCL_EST_ISD, FLEXCL_LAW_FIXED, 1);
    flexcl_learner_advance(l, 400);
    CU_ASSERT_EQUAL(flexcl_learner_updates(l, 0), 20);
    flexcl_learner_destroy(&l);
    l = make(1, 0, FLEXCL_EST_AOL, FLEXCL_LAW_GEOMETRIC, 1);
    flexcl_learner_advance(l, 20000);
    CU_ASSERT_EQUAL(flexcl_learner_updates(l, 0), 20000);
    /* Geometric phases with mean τ = 20: 1000 expected; the count is
     * Binomial-like with sd ≈ √1000 ≈ 32; ±5 sd (false-fail < 1e-6). */
    double ph = (double)flexcl_learner_phases(l, 0);
    CU_ASSERT_TRUE(fabs(ph - 1000.0) < 5 * sqrt(1000.0));
    flexcl_learner_destroy(&l);
}

static void test_phase_length_laws(void)
{
    CU_ASSERT_EQUAL(flexcl_phase_length(FLEXCL_LAW_FIXED, 200, 0, 0.3), 200);
    CU_ASSERT_EQUAL(flexcl_phase_length(FLEXCL_LAW_UNIFORM, 10, 3, 1e-12), 7);
    CU_ASSERT_EQUAL(flexcl_phase_length(FLEXCL_LAW_UNIFORM, 10, 3, 1 - 1e-12), 13);
    /* Geometric: P(T = 1) = p, so u just below... the inverse CDF gives T = 1
     * for u > (1-p); mean over a fine grid of u is τ within 1%. */
    double mean = 0;
    int n = 200000;
    for (int k = 0; k < n; ++k)
        mean += (double)flexcl_phase_length(FLEXCL_LAW_GEOMETRIC, 50, 0, (k + 0.5) / n) / n;
    CU_ASSERT_TRUE(fabs(mean - 50) < 0.5);
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    int rank;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    if (rank != 0) CU_basic_set_mode(CU_BRM_SILENT);
    flexcl_data_create_bas(4, &bas);
    if (CU_initialize_registry() != CUE_SUCCESS) return 1;
    test_case cases[] = {{"averaging_bitwise_equal", test_averaging_bitwise},
                         {"independent_without_averaging", test_independent_without_averaging},
                         {"thread_count_invariance", test_thread_count_invariance},
                         {"estimator_clocks", test_clocks},
                         {"phase_length_laws", test_phase_length_laws}};
    if (add_suite("learner", cases, sizeof cases / sizeof *cases)) return 1;
    int failures = run_all(), total = 0;
    MPI_Allreduce(&failures, &total, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
    flexcl_data_destroy(&bas);
    MPI_Finalize();
    return total ? 1 : 0;
}
