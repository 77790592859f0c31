/* Short equilibrium-propagation training runs through the learners (suite
 * models): a 784-100-10 eqprop net on the first 3000 rows of binarised
 * Fashion-MNIST (pixel/255 > 0.8, label block on), tested on the first 1000
 * t10k rows, under two_term (β = 0.5, η = 0.1, 12000 steps = 2 epochs) and
 * isd (b = 0.5, β = 2, η = 0.02, 40000 steps; isd's single-phase updates
 * ±2G/β are far noisier than EP's differences (G^β − G⁰)/β, so it needs a
 * larger β, a small η and more steps), batch 20, τ = 20 steps per phase,
 * ε = 0.5.
 *
 * Pass: test accuracy ≥ 0.2. Chance is 0.1; the binomial standard error of
 * an accuracy on n = 1000 rows is √(p(1−p)/n): 0.0095 at chance, so the bar
 * is 10.5 SE above chance. The runs are deterministic (fixed
 * seeds, thread-count invariant arithmetic): the false-fail rate on a given
 * build is 0; the printed margins (in SE) show how far each run is from the
 * bar. Twin that must fail the same bar: the untrained network (θ₀) — a rule
 * that does not learn stays there.
 */
#include <CUnit/Basic.h>
#include <math.h>
#include <mpi.h>
#include <stdio.h>
#include <string.h>

#include "../test_util.h"
#include "flexcl/data.h"
#include "flexcl/learner.h"
#include "flexcl/model.h"
#include "flexcl/optim.h"

#include "fmnist.h"

/* The pass mark (see the top comment). */
#define BAR 0.2

static flexcl_data *train_set, *test_set;

/* Test accuracy after `steps` steps (0 = the untrained network). */
static double train(flexcl_estimator_kind kind, double beta, double eta, uint64_t steps)
{
    flexcl_learner_settings ls;
    flexcl_learner_settings_default(&ls);
    ls.seed = 2017;
    flexcl_model_settings ms;
    flexcl_model_settings_default(&ms);
    snprintf(ms.kind, sizeof ms.kind, "eqprop");
    snprintf(ms.hidden, sizeof ms.hidden, "100");
    ms.beta = beta;
    ms.epsilon = 0.5;
    ms.init_sigma = 0.05;
    ms.eval_steps = 100;
    flexcl_estimator_settings es;
    flexcl_estimator_settings_default(&es);
    es.kind = kind;
    es.b = 0.5;
    es.eta = eta;
    es.tau = 20;
    es.law = FLEXCL_LAW_FIXED;
    es.batch = 20;
    flexcl_optim_settings os;
    flexcl_optim_settings_default(&os);
    flexcl_learner *l = NULL;
    double acc = NAN;
    if (flexcl_learner_create(MPI_COMM_SELF, &ls, &ms, &es, &os, train_set, 1, &l) !=
        FLEXCL_OK) {
        fprintf(stderr, "learner: %s\n", flexcl_error_message());
        return NAN;
    }
    double t0 = MPI_Wtime();
    if (steps > 0) CU_ASSERT_EQUAL(flexcl_learner_advance(l, steps), FLEXCL_OK);
    flexcl_metrics mt;
    CU_ASSERT_EQUAL(flexcl_model_evaluate(flexcl_learner_model(l, 0), test_set, &mt), FLEXCL_OK);
    acc = 1.0 - mt.error_rate;
    double se = sqrt(acc * (1.0 - acc) / (double)flexcl_data_rows(test_set));
    printf("\n  %-8s steps %-6llu test accuracy %.4f (SE %.4f; %.1f SE above chance, "
           "%+.1f SE from the bar %.2f), %.1f s",
           flexcl_estimator_kind_name(kind), (unsigned long long)steps, acc, se,
           (acc - 0.1) / se, (acc - BAR) / se, BAR, MPI_Wtime() - t0);
    flexcl_learner_destroy(&l);
    return acc;
}

static void test_two_term(void)
{
    CU_ASSERT_PTR_NOT_NULL_FATAL(train_set);
    CU_ASSERT(train(FLEXCL_EST_TWO_TERM, 0.5, 0.1, 12000) >= BAR);
}

static void test_isd(void)
{
    CU_ASSERT_PTR_NOT_NULL_FATAL(train_set);
    CU_ASSERT(train(FLEXCL_EST_ISD, 2.0, 0.02, 40000) >= BAR);
}

static void test_untrained_twin(void)
{
    CU_ASSERT_PTR_NOT_NULL_FATAL(train_set);
    CU_ASSERT(train(FLEXCL_EST_TWO_TERM, 0.5, 0.1, 0) < BAR);
    printf("\n");
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    train_set = fmnist_load(FMNIST "train-images-idx3-ubyte.gz", FMNIST "train-labels-idx1-ubyte.gz",
                            3000, 1);
    test_set = fmnist_load(FMNIST "t10k-images-idx3-ubyte.gz", FMNIST "t10k-labels-idx1-ubyte.gz",
                           1000, 1);
    int rc = 1;
    if (CU_initialize_registry() == CUE_SUCCESS) {
        static const test_case cases[] = {
            {"two_term", test_two_term},
            {"isd", test_isd},
            {"untrained_twin", test_untrained_twin},
        };
        rc = add_suite("eqprop_train", cases, sizeof cases / sizeof cases[0]) ? 1 : run_all();
    }
    flexcl_data_destroy(&train_set);
    flexcl_data_destroy(&test_set);
    MPI_Finalize();
    return rc;
}
