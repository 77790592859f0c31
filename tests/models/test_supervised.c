/* Short training runs of the feed-forward learners on the first 2000 images
 * of binarised Fashion-MNIST (Debian's /usr/share/datasets/fashion-mnist,
 * pixel/255 > 0.8), tested on the first 1000 t10k images (suite models):
 *   - backprop, DPᵀ (α = ½), DP (α = ½) and Forward-Forward (isd, b = ½)
 *     reach a test accuracy well above chance (10 %);
 *   - a run is bitwise the same with 1 and 2 OpenMP/OpenBLAS threads.
 * Every run is deterministic (fixed Philox seeds, thread-count invariant
 * arithmetic), so an accuracy threshold is a fixed comparison: the
 * thresholds sit far below the measured values printed by the test and far
 * above chance, and a broken update (wrong sign, no learning) lands near
 * 10 %. */
#include <CUnit/Basic.h>
#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../test_util.h"
#include "flexcl/data.h"
#include "flexcl/supervised.h"

#define FMNIST "/usr/share/datasets/fashion-mnist/"

static flexcl_data *train_set, *test_set;

static flexcl_data *load(const char *images, const char *labels, size_t rows)
{
    flexcl_data_settings ds;
    flexcl_data_settings_default(&ds);
    ds.source = FLEXCL_DATA_IDX;
    snprintf(ds.images, sizeof ds.images, "%s", images);
    snprintf(ds.labels, sizeof ds.labels, "%s", labels);
    ds.threshold = 0.8;
    ds.label_block = 0;
    ds.max_rows = rows;
    flexcl_data *d = NULL;
    if (flexcl_data_create(&ds, &d) != FLEXCL_OK)
        fprintf(stderr, "cannot load %s: %s\n", images, flexcl_error_message());
    return d;
}

typedef struct {
    flexcl_supervised_kind kind;
    const char *hidden;
    flexcl_estimator_kind est;
    int batch;
    double eta;
    uint64_t epochs;
    double min_test; /* the test's threshold */
} run_case;

static double run(const run_case *rc, flexcl_supervised_curve *c, double *params)
{
    flexcl_supervised_settings s;
    flexcl_supervised_settings_default(&s);
    s.kind = rc->kind;
    snprintf(s.hidden, sizeof s.hidden, "%s", rc->hidden);
    s.epochs = rc->epochs;
    s.eval_rows = 0;
    flexcl_estimator_settings es;
    flexcl_estimator_settings_default(&es);
    es.kind = rc->est;
    es.b = 0.5;
    es.eta = rc->eta;
    es.batch = rc->batch;
    flexcl_optim_settings os;
    flexcl_optim_settings_default(&os);
    os.kind = FLEXCL_OPTIM_ADAM;
    flexcl_stream st = flexcl_stream_make(2026, 0, 0);
    const double t0 = omp_get_wtime();
    flexcl_code rcode = flexcl_supervised_train(&s, &es, &os, train_set, test_set,
                                                &st, c, params);
    if (rcode != FLEXCL_OK) {
        fprintf(stderr, "train failed: %s\n", flexcl_error_message());
        CU_FAIL("flexcl_supervised_train");
        return 0.0;
    }
    printf("\n  %-8s hidden %s batch %d eta %g: %.1f s;",
           flexcl_supervised_kind_name(rc->kind), rc->hidden, rc->batch,
           rc->eta, omp_get_wtime() - t0);
    for (size_t e = 0; e < c->n_points; ++e)
        printf(" e%zu train %.3f test %.3f (loss %.3f, %.2f s)", e,
               c->train_acc[e], c->test_acc[e], c->train_loss[e], c->seconds[e]);
    return c->test_acc[c->n_points - 1];
}

static void check_learns(const run_case *rc)
{
    CU_ASSERT_PTR_NOT_NULL_FATAL(train_set);
    CU_ASSERT_PTR_NOT_NULL_FATAL(test_set);
    flexcl_supervised_curve c = {0};
    const double acc = run(rc, &c, NULL);
    CU_ASSERT(c.n_points == rc->epochs + 1);
    CU_ASSERT(acc > rc->min_test);
    /* Before training the accuracy is near chance. */
    if (c.n_points) CU_ASSERT(c.test_acc[0] < 0.35);
    flexcl_supervised_curve_free(&c);
}

static void test_backprop(void)
{
    run_case rc = {FLEXCL_SUP_BACKPROP, "64,64", FLEXCL_EST_TWO_TERM, 50, 1e-3, 3, 0.60};
    check_learns(&rc);
}

static void test_dpt(void)
{
    run_case rc = {FLEXCL_SUP_DPT, "64,64", FLEXCL_EST_TWO_TERM, 50, 1e-3, 3, 0.60};
    check_learns(&rc);
}

static void test_dp(void)
{
    run_case rc = {FLEXCL_SUP_DP, "64,64", FLEXCL_EST_TWO_TERM, 50, 1e-3, 3, 0.60};
    check_learns(&rc);
}

static void test_ff(void)
{
    run_case rc = {FLEXCL_SUP_FF, "100,100", FLEXCL_EST_TWO_TERM, 1, 0.01, 2, 0.20};
    check_learns(&rc);
}

/* One run at 1 and at 2 threads (OpenMP and OpenBLAS): bitwise equal. */
static void check_threads(const run_case *rc)
{
    flexcl_supervised_settings s;
    flexcl_supervised_settings_default(&s);
    s.kind = rc->kind;
    snprintf(s.hidden, sizeof s.hidden, "%s", rc->hidden);
    size_t P = 0;
    CU_ASSERT_EQUAL_FATAL(flexcl_supervised_param_count(&s, 784, 10, &P), FLEXCL_OK);
    double *p1 = calloc(P, sizeof *p1), *p2 = calloc(P, sizeof *p2);
    flexcl_supervised_curve c1 = {0}, c2 = {0};
    omp_set_num_threads(1);
    openblas_set_num_threads(1);
    run(rc, &c1, p1);
    omp_set_num_threads(2);
    openblas_set_num_threads(2);
    run(rc, &c2, p2);
    omp_set_num_threads(1);
    openblas_set_num_threads(1);
    CU_ASSERT(memcmp(p1, p2, P * sizeof *p1) == 0);
    CU_ASSERT(c1.n_points == c2.n_points &&
              memcmp(c1.test_acc, c2.test_acc, c1.n_points * sizeof(double)) == 0);
    flexcl_supervised_curve_free(&c1);
    flexcl_supervised_curve_free(&c2);
    free(p1);
    free(p2);
}

static void test_threads_dpt(void)
{
    run_case rc = {FLEXCL_SUP_DPT, "64,64", FLEXCL_EST_TWO_TERM, 50, 1e-3, 1, 0};
    check_threads(&rc);
}

static void test_threads_ff(void)
{
    run_case rc = {FLEXCL_SUP_FF, "100,100", FLEXCL_EST_ISD, 50, 0.01, 1, 0};
    check_threads(&rc);
}

static void test_errors(void)
{
    flexcl_supervised_settings s;
    flexcl_supervised_settings_default(&s);
    flexcl_estimator_settings es;
    flexcl_estimator_settings_default(&es);
    flexcl_optim_settings os;
    flexcl_optim_settings_default(&os);
    flexcl_stream st = flexcl_stream_make(1, 0, 0);
    flexcl_supervised *t = NULL;
    strcpy(s.hidden, "64,x");
    CU_ASSERT_EQUAL(flexcl_supervised_create(&s, &es, &os, 784, 10, &st, &t), FLEXCL_ERR_ARG);
    CU_ASSERT(strstr(flexcl_error_message(), "model.hidden") != NULL);
    strcpy(s.hidden, "64, 32");
    s.kind = FLEXCL_SUP_FF;
    es.kind = FLEXCL_EST_AOL;
    CU_ASSERT_EQUAL(flexcl_supervised_create(&s, &es, &os, 784, 10, &st, &t),
                    FLEXCL_ERR_UNSUPPORTED);
    CU_ASSERT_PTR_NULL(t);
    es.kind = FLEXCL_EST_ISD;
    CU_ASSERT_EQUAL(flexcl_supervised_create(&s, &es, &os, 784, 10, &st, &t), FLEXCL_OK);
    CU_ASSERT_EQUAL(flexcl_supervised_n_params(t), 784 * 64 + 64 + 64 * 32 + 32);
    flexcl_supervised_destroy(&t);
    CU_ASSERT_PTR_NULL(t);
    flexcl_supervised_kind k;
    CU_ASSERT(flexcl_supervised_kind_parse("dpt", &k) && k == FLEXCL_SUP_DPT);
    CU_ASSERT(!flexcl_supervised_kind_parse("rbm", &k));
}

int main(void)
{
    omp_set_num_threads(1);
    openblas_set_num_threads(1);
    train_set = load(FMNIST "train-images-idx3-ubyte.gz",
                     FMNIST "train-labels-idx1-ubyte.gz", 2000);
    test_set = load(FMNIST "t10k-images-idx3-ubyte.gz",
                    FMNIST "t10k-labels-idx1-ubyte.gz", 1000);
    if (CU_initialize_registry() != CUE_SUCCESS) return 1;
    test_case cases[] = {
        {"errors", test_errors},
        {"backprop_learns", test_backprop},
        {"dpt_learns", test_dpt},
        {"dp_learns", test_dp},
        {"ff_learns", test_ff},
        {"threads_dpt_bitwise", test_threads_dpt},
        {"threads_ff_bitwise", test_threads_ff},
    };
    if (add_suite("supervised", cases, sizeof cases / sizeof *cases)) return 1;
    int rc = run_all();
    flexcl_data_destroy(&train_set);
    flexcl_data_destroy(&test_set);
    return rc ? 1 : 0;
}
