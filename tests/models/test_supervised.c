/* Short training runs of the feed-forward learners on the first 2000 images
 * of binarised Fashion-MNIST (Debian's /usr/share/datasets/fashion-mnist,
 * pixel/255 > 0.8), tested on the first 1000 t10k images (suite models):
 *   - backprop, DPᵀ (α = ½), DP (α = ½) and Forward-Forward (isd, b = ½)
 *     reach a test accuracy well above chance (10 %);
 *   - a run is bitwise the same with 1 and 2 OpenMP/OpenBLAS threads;
 *   - an epoch run in slices of minibatches (flexcl_supervised_advance) is
 *     bitwise flexcl_supervised_epoch, and a state snapshot taken inside an
 *     epoch and restored into a fresh trainer continues bitwise (must-fail
 *     twin: without the optimiser state it differs); for ff under aol also
 *     inside a phase (must-fail twin: without the phase type and the steps
 *     left it differs); bad snapshots are refused;
 *   - each kind's operations table (src/supervised_impl.h) is complete,
 *     named as the kind, and has exactly one of phase and direction.
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
#include "supervised_impl.h"

#include "fmnist.h"

static flexcl_data *train_set, *test_set;

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
    flexcl_model_settings ms; /* hidden, beta, eval_rows */
    flexcl_model_settings_default(&ms);
    s.kind = rc->kind;
    snprintf(ms.hidden, sizeof ms.hidden, "%s", rc->hidden);
    s.epochs = rc->epochs;
    ms.eval_rows = 0;
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
    flexcl_code rcode = flexcl_supervised_train(&s, &ms, &es, &os, train_set, test_set,
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
    flexcl_model_settings ms; /* hidden, beta, eval_rows */
    flexcl_model_settings_default(&ms);
    s.kind = rc->kind;
    snprintf(ms.hidden, sizeof ms.hidden, "%s", rc->hidden);
    size_t P = 0;
    CU_ASSERT_EQUAL_FATAL(flexcl_supervised_param_count(&s, &ms, 784, 10, &P), FLEXCL_OK);
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
    flexcl_model_settings ms; /* hidden, beta, eval_rows */
    flexcl_model_settings_default(&ms);
    flexcl_estimator_settings es;
    flexcl_estimator_settings_default(&es);
    flexcl_optim_settings os;
    flexcl_optim_settings_default(&os);
    flexcl_stream st = flexcl_stream_make(1, 0, 0);
    flexcl_supervised *t = NULL;
    strcpy(ms.hidden, "64,x");
    CU_ASSERT_EQUAL(flexcl_supervised_create(&s, &ms, &es, &os, 784, 10, &st, &t), FLEXCL_ERR_ARG);
    CU_ASSERT(strstr(flexcl_error_message(), "model.hidden") != NULL);
    strcpy(ms.hidden, "64, 32");
    s.kind = FLEXCL_SUP_FF;
    es.kind = FLEXCL_EST_TCL;
    CU_ASSERT_EQUAL(flexcl_supervised_create(&s, &ms, &es, &os, 784, 10, &st, &t),
                    FLEXCL_ERR_UNSUPPORTED);
    CU_ASSERT(strstr(flexcl_error_message(), "estimator.kind: tcl") != NULL);
    CU_ASSERT_PTR_NULL(t);
    /* ff under aol: E[T] must be tau. */
    es.kind = FLEXCL_EST_AOL;
    es.tau = 2.5;
    CU_ASSERT_EQUAL(flexcl_supervised_create(&s, &ms, &es, &os, 784, 10, &st, &t),
                    FLEXCL_ERR_ARG);
    CU_ASSERT(strstr(flexcl_error_message(), "estimator.tau: 2.5; model.kind = ff under aol with estimator.law = fixed needs a whole number") != NULL);
    es.law = FLEXCL_LAW_UNIFORM;
    es.tau = 3.0;
    es.uniform_halfwidth = 3;
    CU_ASSERT_EQUAL(flexcl_supervised_create(&s, &ms, &es, &os, 784, 10, &st, &t),
                    FLEXCL_ERR_ARG);
    CU_ASSERT(strstr(flexcl_error_message(), "estimator.uniform_halfwidth: 3") != NULL);
    es.tau = 0.5;
    es.law = FLEXCL_LAW_GEOMETRIC;
    CU_ASSERT_EQUAL(flexcl_supervised_create(&s, &ms, &es, &os, 784, 10, &st, &t),
                    FLEXCL_ERR_ARG);
    CU_ASSERT(strstr(flexcl_error_message(), "estimator.tau: 0.5") != NULL);
    CU_ASSERT_PTR_NULL(t);
    es.tau = 2.5; /* a geometric law takes any tau >= 1 */
    CU_ASSERT_EQUAL(flexcl_supervised_create(&s, &ms, &es, &os, 784, 10, &st, &t), FLEXCL_OK);
    flexcl_supervised_destroy(&t);
    flexcl_estimator_settings_default(&es);
    es.kind = FLEXCL_EST_ISD;
    CU_ASSERT_EQUAL(flexcl_supervised_create(&s, &ms, &es, &os, 784, 10, &st, &t), FLEXCL_OK);
    CU_ASSERT_EQUAL(flexcl_supervised_n_params(t), 784 * 64 + 64 + 64 * 32 + 32);
    flexcl_supervised_destroy(&t);
    CU_ASSERT_PTR_NULL(t);
    flexcl_supervised_kind k;
    CU_ASSERT(flexcl_supervised_kind_parse("dpt", &k) && k == FLEXCL_SUP_DPT);
    CU_ASSERT(!flexcl_supervised_kind_parse("rbm", &k));
}

/* The tables in kind order, as src/supervised.c looks them up. */
static void test_tables(void)
{
    const flexcl_supervised_model_ops *const tables[] = {
        [FLEXCL_SUP_FF] = &flexcl_supervised_ff_ops,
        [FLEXCL_SUP_DP] = &flexcl_supervised_dp_ops,
        [FLEXCL_SUP_DPT] = &flexcl_supervised_dpt_ops,
        [FLEXCL_SUP_BACKPROP] = &flexcl_supervised_backprop_ops,
    };
    flexcl_model_settings ms;
    flexcl_model_settings_default(&ms); /* hidden = auto */
    for (int k = 0; k < FLEXCL_SUP_KINDS; ++k) {
        const flexcl_supervised_model_ops *o = tables[k];
        flexcl_supervised_settings s;
        flexcl_supervised_settings_default(&s);
        s.kind = (flexcl_supervised_kind)k;
        flexcl_supervised_kind parsed = FLEXCL_SUP_DPT;
        CU_ASSERT_STRING_EQUAL(o->name, flexcl_supervised_kind_name(s.kind));
        CU_ASSERT(flexcl_supervised_kind_parse(o->name, &parsed) && parsed == s.kind);
        CU_ASSERT(o->param_count && o->create && o->destroy && o->n_params && o->params &&
                  o->init && o->widths && o->predict);
        CU_ASSERT((o->phase != NULL) != (o->direction != NULL));
        CU_ASSERT_EQUAL(o->phase != NULL, k == FLEXCL_SUP_FF);
        size_t w[8], n = 0, P = 0, Q = 0;
        CU_ASSERT_EQUAL(flexcl_supervised_hidden(&s, &ms, w, 8, &n), FLEXCL_OK);
        CU_ASSERT(n == 2 && w[0] == o->default_hidden && w[1] == o->default_hidden);
        CU_ASSERT_EQUAL(flexcl_supervised_param_count(&s, &ms, 784, 10, &P), FLEXCL_OK);
        CU_ASSERT_EQUAL(o->param_count(&s, &ms, 784, 10, &Q), FLEXCL_OK);
        CU_ASSERT_EQUAL(P, Q);
        CU_ASSERT_EQUAL(P, k == FLEXCL_SUP_FF ? 784 * 500 + 500 + 500 * 500 + 500
                                              : 784 * 512 + 512 + 512 * 512 + 512 +
                                                    512 * 10 + 10);
    }
    /* Refusals: dp's own rule (alpha = 0.5) through its table, and the
     * trainer's rule for a two-phase kind under aol; create refuses the
     * same. Twins: dpt at the same alpha, ff at a whole tau. */
    CU_ASSERT_PTR_NULL(tables[FLEXCL_SUP_FF]->refuse);
    CU_ASSERT_PTR_NOT_NULL(tables[FLEXCL_SUP_DP]->refuse);
    CU_ASSERT_PTR_NULL(tables[FLEXCL_SUP_DPT]->refuse);
    CU_ASSERT_PTR_NULL(tables[FLEXCL_SUP_BACKPROP]->refuse);
    flexcl_supervised_settings s;
    flexcl_estimator_settings es;
    flexcl_optim_settings os;
    flexcl_estimator_settings_default(&es);
    flexcl_optim_settings_default(&os);
    flexcl_stream st = flexcl_stream_make(1, 0, 0);
    flexcl_supervised *t = NULL;
    strcpy(ms.hidden, "8, 8");
    const char *context = NULL;
    char why[256];
    const struct {
        flexcl_supervised_kind kind;
        double alpha, tau;
        flexcl_estimator_kind est;
        const char *key, *context, *why;
    } cases[] = {
        {FLEXCL_SUP_DP, 0.3, 200, FLEXCL_EST_TWO_TERM, "model.alpha", "model.kind",
         "0.3; original dual propagation (model.kind = dp) is stable only at 0.5 (use dpt)"},
        {FLEXCL_SUP_DP, 0.5, 200, FLEXCL_EST_TWO_TERM, NULL, NULL, NULL},
        {FLEXCL_SUP_DPT, 0.3, 200, FLEXCL_EST_TWO_TERM, NULL, NULL, NULL},
        {FLEXCL_SUP_FF, 0.5, 2.5, FLEXCL_EST_AOL, "estimator.tau", "estimator.law",
         "2.5; model.kind = ff under aol with estimator.law = fixed needs a whole number"},
        {FLEXCL_SUP_FF, 0.5, 3, FLEXCL_EST_AOL, NULL, NULL, NULL},
        {FLEXCL_SUP_FF, 0.5, 2.5, FLEXCL_EST_ISD, NULL, NULL, NULL}, /* tau unused */
        {FLEXCL_SUP_DPT, 0.5, 2.5, FLEXCL_EST_AOL, NULL, NULL, NULL}, /* estimator ignored */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; ++i) {
        flexcl_supervised_settings_default(&s);
        s.kind = cases[i].kind;
        s.alpha = cases[i].alpha;
        es.kind = cases[i].est;
        es.tau = cases[i].tau;
        context = NULL;
        const char *key = flexcl_supervised_refusal(&s, &es, &context, why, sizeof why);
        flexcl_code got = flexcl_supervised_create(&s, &ms, &es, &os, 16, 10, &st, &t);
        flexcl_supervised_destroy(&t);
        if (cases[i].key == NULL) {
            CU_ASSERT_PTR_NULL(key);
            CU_ASSERT_EQUAL(got, FLEXCL_OK);
            continue;
        }
        CU_ASSERT(key != NULL && strcmp(key, cases[i].key) == 0);
        CU_ASSERT(context != NULL && strcmp(context, cases[i].context) == 0);
        CU_ASSERT(strncmp(why, cases[i].why, strlen(cases[i].why)) == 0);
        CU_ASSERT_EQUAL(got, FLEXCL_ERR_ARG);
        CU_ASSERT(strstr(flexcl_error_message(), cases[i].why) != NULL);
    }
    /* One table per kind, names distinct. */
    for (int a = 0; a < FLEXCL_SUP_KINDS; ++a)
        for (int b = a + 1; b < FLEXCL_SUP_KINDS; ++b)
            CU_ASSERT(strcmp(flexcl_supervised_kind_name((flexcl_supervised_kind)a),
                             flexcl_supervised_kind_name((flexcl_supervised_kind)b)) != 0);
    flexcl_supervised_settings_default(&s);
    s.kind = FLEXCL_SUP_KINDS;
    size_t P = 1;
    CU_ASSERT_STRING_EQUAL(flexcl_supervised_kind_name(s.kind), "?");
    CU_ASSERT_EQUAL(flexcl_supervised_param_count(&s, &ms, 784, 10, &P), FLEXCL_ERR_ARG);
    CU_ASSERT_EQUAL(P, 0);
}

/* A small trainer for the resumability tests: 784-20-16(-10), batch 7 (the
 * last minibatch of an epoch over 2000 rows is shorter), Adam. */
static flexcl_supervised *small_trainer(flexcl_supervised_kind kind,
                                        flexcl_estimator_kind est)
{
    flexcl_supervised_settings s;
    flexcl_supervised_settings_default(&s);
    flexcl_model_settings ms; /* hidden, beta, eval_rows */
    flexcl_model_settings_default(&ms);
    s.kind = kind;
    strcpy(ms.hidden, "20,16");
    flexcl_estimator_settings es;
    flexcl_estimator_settings_default(&es);
    es.kind = est;
    es.b = 0.3;
    es.eta = 0.01;
    es.batch = 7;
    es.tau = 5.0; /* aol: fixed phases of 5 minibatches (5 ∤ 286, so phases straddle epochs) */
    flexcl_optim_settings os;
    flexcl_optim_settings_default(&os);
    os.kind = FLEXCL_OPTIM_ADAM;
    flexcl_stream st = flexcl_stream_make(7, 3, 0);
    flexcl_supervised *t = NULL;
    if (flexcl_supervised_create(&s, &ms, &es, &os, 784, 10, &st, &t) != FLEXCL_OK)
        fprintf(stderr, "create failed: %s\n", flexcl_error_message());
    return t;
}

/* Accuracy on the test rows after adding v to θ[off .. off + n) (through
 * the trainer's state, θ first). */
static double accuracy_with(flexcl_supervised *t, size_t off, size_t n, double v)
{
    const size_t S = flexcl_supervised_state_size(t);
    uint64_t clock[FLEXCL_SUP_CLOCK];
    double *st = malloc(S * sizeof *st), acc = -1.0;
    flexcl_supervised_state_get(t, st, clock);
    for (size_t q = off; q < off + n; ++q) st[q] += v;
    if (flexcl_supervised_state_set(t, st, S, clock) == FLEXCL_OK)
        flexcl_supervised_accuracy(t, test_set, 0, &acc);
    for (size_t q = off; q < off + n; ++q) st[q] -= v;
    flexcl_supervised_state_set(t, st, S, clock);
    free(st);
    return acc;
}

/* flexcl_supervised_block: W0, b1, W1, b2, … tile θ in order with the
 * documented shapes (784-20-16 for ff; 784-20-16-10 for the MLP rules),
 * and the index past them is an empty block. Their content too: for the
 * MLP rules, +1e6 on element 3 of the last block (the output bias) makes
 * every prediction label 3, so the accuracy is the test rows' share of
 * label 3; for ff, −1e6 on all of b1 silences layer 1, every label's
 * goodness is then the same, and every prediction is label 0. The twins
 * add the same to as many elements just before the block (the end of the
 * weight matrix before it): then some prediction is not that label, and
 * the accuracy is not that share (1000 rows: 0.114 against 0.107 for ff,
 * 0.108 against 0.093 for the MLP rules). */
static void test_blocks(void)
{
    for (int k = 0; k < FLEXCL_SUP_KINDS; ++k) {
        flexcl_supervised *t = small_trainer((flexcl_supervised_kind)k, FLEXCL_EST_TWO_TERM);
        CU_ASSERT_PTR_NOT_NULL_FATAL(t);
        const size_t w[4] = {784, 20, 16, 10}, L = k == FLEXCL_SUP_FF ? 2 : 3;
        const char *const names[6] = {"W0", "b1", "W1", "b2", "W2", "b3"};
        CU_ASSERT_EQUAL(flexcl_supervised_n_blocks(t), 2 * L);
        size_t off = 0;
        for (size_t i = 0; i < 2 * L; ++i) {
            flexcl_param_block b = flexcl_supervised_block(t, i);
            const size_t l = i / 2;
            CU_ASSERT_STRING_EQUAL(b.name, names[i]);
            CU_ASSERT_EQUAL(b.offset, off);
            CU_ASSERT_EQUAL(b.rows, w[l + 1]);
            CU_ASSERT_EQUAL(b.cols, i % 2 ? 1 : w[l]);
            off += b.rows * b.cols;
        }
        CU_ASSERT_EQUAL(off, flexcl_supervised_n_params(t));
        CU_ASSERT_PTR_NULL(flexcl_supervised_block(t, 2 * L).name);
        const int ff = k == FLEXCL_SUP_FF, label = ff ? 0 : 3;
        flexcl_param_block b = flexcl_supervised_block(t, ff ? 1 : 2 * L - 1);
        const size_t at = ff ? b.offset : b.offset + 3, n = ff ? b.rows : 1;
        const double v = ff ? -1e6 : 1e6;
        size_t rows = flexcl_data_rows(test_set), with_label = 0;
        for (size_t r = 0; r < rows; ++r) with_label += flexcl_data_label(test_set, r) == label;
        const double share = (double)with_label / (double)rows;
        const double hit = accuracy_with(t, at, n, v), twin = accuracy_with(t, b.offset - n, n, v);
        printf("\n    %s: label %d's share %.3f, block %s changed %.3f, twin %.3f",
               flexcl_supervised_kind_name((flexcl_supervised_kind)k), label, share, b.name, hit,
               twin);
        CU_ASSERT_DOUBLE_EQUAL(hit, share, 1e-12);
        CU_ASSERT(twin != share); /* some prediction is not the label */
        flexcl_supervised_destroy(&t);
    }
}

/* Advance to the end of the current epoch in slices of `slice` minibatches;
 * returns the epoch's loss (NaN on failure). */
static double finish_epoch(flexcl_supervised *t, uint64_t slice)
{
    int done = 0;
    double loss = NAN;
    while (!done)
        if (flexcl_supervised_advance(t, train_set, slice, &done, &loss) != FLEXCL_OK) {
            fprintf(stderr, "advance failed: %s\n", flexcl_error_message());
            CU_FAIL("flexcl_supervised_advance");
            return NAN;
        }
    return loss;
}

/* Two epochs in slices of 1, 5 and 300 minibatches (an epoch is 286): θ,
 * the updates and the epoch losses are bitwise those of
 * flexcl_supervised_epoch. */
static void check_slices(flexcl_supervised_kind kind, flexcl_estimator_kind est)
{
    CU_ASSERT_PTR_NOT_NULL_FATAL(train_set);
    flexcl_supervised *ref = small_trainer(kind, est);
    CU_ASSERT_PTR_NOT_NULL_FATAL(ref);
    double lref[2];
    for (int e = 0; e < 2; ++e)
        CU_ASSERT_EQUAL(flexcl_supervised_epoch(ref, train_set, &lref[e]), FLEXCL_OK);
    const uint64_t slices[] = {1, 5, 300};
    for (size_t k = 0; k < 3; ++k) {
        flexcl_supervised *t = small_trainer(kind, est);
        CU_ASSERT_PTR_NOT_NULL_FATAL(t);
        for (int e = 0; e < 2; ++e) {
            const double l = finish_epoch(t, slices[k]);
            CU_ASSERT(memcmp(&l, &lref[e], sizeof l) == 0);
            CU_ASSERT_EQUAL(flexcl_supervised_epoch_position(t), 0);
        }
        CU_ASSERT_EQUAL(flexcl_supervised_epochs_done(t), 2);
        CU_ASSERT_EQUAL(flexcl_supervised_updates(t), flexcl_supervised_updates(ref));
        CU_ASSERT(memcmp(flexcl_supervised_params(t), flexcl_supervised_params(ref),
                         flexcl_supervised_n_params(t) * sizeof(double)) == 0);
        flexcl_supervised_destroy(&t);
    }
    flexcl_supervised_destroy(&ref);
}

static void test_advance_dpt(void) { check_slices(FLEXCL_SUP_DPT, FLEXCL_EST_TWO_TERM); }
static void test_advance_ff(void) { check_slices(FLEXCL_SUP_FF, FLEXCL_EST_ISD); }
static void test_advance_ff_aol(void) { check_slices(FLEXCL_SUP_FF, FLEXCL_EST_AOL); }

/* Snapshot in the middle of epoch 2 (after 286 + 101 minibatches), restore
 * it into a fresh trainer and finish: θ and the epoch loss are bitwise the
 * uninterrupted run's, and a snapshot of the restored trainer equals the
 * saved one. Must-fail twin: restoring θ and the counters but not the
 * optimiser state (a fresh Adam) gives another θ and loss. */
static void check_snapshot(flexcl_supervised_kind kind, flexcl_estimator_kind est)
{
    CU_ASSERT_PTR_NOT_NULL_FATAL(train_set);
    flexcl_supervised *ref = small_trainer(kind, est), *t = small_trainer(kind, est);
    CU_ASSERT_PTR_NOT_NULL_FATAL(ref);
    CU_ASSERT_PTR_NOT_NULL_FATAL(t);
    double l1, l2;
    CU_ASSERT_EQUAL(flexcl_supervised_epoch(ref, train_set, &l1), FLEXCL_OK);
    CU_ASSERT_EQUAL(flexcl_supervised_epoch(ref, train_set, &l2), FLEXCL_OK);

    int done = 1;
    CU_ASSERT_EQUAL(flexcl_supervised_epoch(t, train_set, NULL), FLEXCL_OK);
    CU_ASSERT_EQUAL(flexcl_supervised_advance(t, train_set, 101, &done, NULL), FLEXCL_OK);
    CU_ASSERT_EQUAL(done, 0);
    CU_ASSERT_EQUAL(flexcl_supervised_epoch_position(t), 101);
    const size_t P = flexcl_supervised_n_params(t), S = flexcl_supervised_state_size(t);
    CU_ASSERT_EQUAL(S, 3 * P + 1); /* θ, Adam's m and v, the loss sum */
    double *snap = calloc(S, sizeof *snap), *again = calloc(S, sizeof *again);
    double *fresh = calloc(S, sizeof *fresh);
    uint64_t clock[FLEXCL_SUP_CLOCK], clock2[FLEXCL_SUP_CLOCK], fclock[FLEXCL_SUP_CLOCK];
    CU_ASSERT_PTR_NOT_NULL_FATAL(snap);
    CU_ASSERT_PTR_NOT_NULL_FATAL(again);
    CU_ASSERT_PTR_NOT_NULL_FATAL(fresh);
    flexcl_supervised_state_get(t, snap, clock);
    CU_ASSERT_EQUAL(clock[FLEXCL_SUP_CLOCK_EPOCHS], 1);
    CU_ASSERT_EQUAL(clock[FLEXCL_SUP_CLOCK_UPDATES], 286 + 101);
    CU_ASSERT_EQUAL(clock[FLEXCL_SUP_CLOCK_POSITION], 101);
    CU_ASSERT_EQUAL(clock[FLEXCL_SUP_CLOCK_ROWS], 2000);
    CU_ASSERT_EQUAL(clock[FLEXCL_SUP_CLOCK_OPTIM], 286 + 101);
    /* aol, fixed T = 5 from update 0: 387 = 5·77 + 2 updates done, so the
     * snapshot is 2 steps into a phase with 3 left; other runs have none. */
    const int aol = est == FLEXCL_EST_AOL;
    CU_ASSERT_EQUAL(clock[FLEXCL_SUP_CLOCK_REMAINING], aol ? 3 : 0);
    CU_ASSERT(aol || clock[FLEXCL_SUP_CLOCK_PHASE] == 0);
    flexcl_supervised_destroy(&t);

    /* Restore everything: bitwise the uninterrupted run. */
    flexcl_supervised *r = small_trainer(kind, est);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    CU_ASSERT_EQUAL(flexcl_supervised_state_set(r, snap, S, clock), FLEXCL_OK);
    flexcl_supervised_state_get(r, again, clock2);
    CU_ASSERT(memcmp(snap, again, S * sizeof *snap) == 0);
    CU_ASSERT(memcmp(clock, clock2, sizeof clock) == 0);
    double lr = finish_epoch(r, 16);
    CU_ASSERT(memcmp(&lr, &l2, sizeof lr) == 0);
    CU_ASSERT_EQUAL(flexcl_supervised_updates(r), flexcl_supervised_updates(ref));
    CU_ASSERT(memcmp(flexcl_supervised_params(r), flexcl_supervised_params(ref),
                     P * sizeof(double)) == 0);
    flexcl_supervised_destroy(&r);

    /* Twin: θ, loss sum and counters restored, the optimiser left fresh. */
    r = small_trainer(kind, est);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    flexcl_supervised_state_get(r, fresh, fclock);
    memcpy(fresh, snap, P * sizeof *snap);
    fresh[S - 1] = snap[S - 1];
    memcpy(fclock, clock, sizeof clock);
    fclock[FLEXCL_SUP_CLOCK_OPTIM] = 0;
    CU_ASSERT_EQUAL(flexcl_supervised_state_set(r, fresh, S, fclock), FLEXCL_OK);
    lr = finish_epoch(r, 16);
    CU_ASSERT(memcmp(&lr, &l2, sizeof lr) != 0);
    CU_ASSERT(memcmp(flexcl_supervised_params(r), flexcl_supervised_params(ref),
                     P * sizeof(double)) != 0);
    flexcl_supervised_destroy(&r);

    if (aol) {
        /* Twin: everything restored but the aol phase (as a snapshot without
         * it would be: a new phase begins at the next step). */
        r = small_trainer(kind, est);
        CU_ASSERT_PTR_NOT_NULL_FATAL(r);
        memcpy(fclock, clock, sizeof clock);
        fclock[FLEXCL_SUP_CLOCK_PHASE] = 0;
        fclock[FLEXCL_SUP_CLOCK_REMAINING] = 0;
        CU_ASSERT_EQUAL(flexcl_supervised_state_set(r, snap, S, fclock), FLEXCL_OK);
        lr = finish_epoch(r, 16);
        CU_ASSERT(memcmp(&lr, &l2, sizeof lr) != 0);
        CU_ASSERT(memcmp(flexcl_supervised_params(r), flexcl_supervised_params(ref),
                         P * sizeof(double)) != 0);
        flexcl_supervised_destroy(&r);
    }
    flexcl_supervised_destroy(&ref);
    free(snap);
    free(again);
    free(fresh);
}

static void test_snapshot_dpt(void) { check_snapshot(FLEXCL_SUP_DPT, FLEXCL_EST_TWO_TERM); }
static void test_snapshot_ff(void) { check_snapshot(FLEXCL_SUP_FF, FLEXCL_EST_TWO_TERM); }
static void test_snapshot_ff_aol(void) { check_snapshot(FLEXCL_SUP_FF, FLEXCL_EST_AOL); }

/* Bad snapshots are refused before anything changes; an epoch in progress
 * refuses data of another row count. */
static void test_snapshot_errors(void)
{
    CU_ASSERT_PTR_NOT_NULL_FATAL(train_set);
    CU_ASSERT_PTR_NOT_NULL_FATAL(test_set);
    flexcl_supervised *t = small_trainer(FLEXCL_SUP_DPT, FLEXCL_EST_TWO_TERM);
    CU_ASSERT_PTR_NOT_NULL_FATAL(t);
    const size_t P = flexcl_supervised_n_params(t), S = flexcl_supervised_state_size(t);
    double *st = calloc(S, sizeof *st), *before = calloc(P, sizeof *before);
    uint64_t clock[FLEXCL_SUP_CLOCK];
    CU_ASSERT_PTR_NOT_NULL_FATAL(st);
    CU_ASSERT_PTR_NOT_NULL_FATAL(before);
    int done = 1;
    CU_ASSERT_EQUAL(flexcl_supervised_advance(t, train_set, 10, &done, NULL), FLEXCL_OK);
    flexcl_supervised_state_get(t, st, clock);
    memcpy(before, flexcl_supervised_params(t), P * sizeof *before);

    CU_ASSERT_EQUAL(flexcl_supervised_state_set(t, st, S - 1, clock), FLEXCL_ERR_DATA);
    CU_ASSERT(strstr(flexcl_error_message(), "a state of") != NULL);
    uint64_t bad[FLEXCL_SUP_CLOCK];
    memcpy(bad, clock, sizeof bad);
    bad[FLEXCL_SUP_CLOCK_POSITION] = 286; /* an epoch over 2000 rows has 286 */
    st[0] += 1.0;
    CU_ASSERT_EQUAL(flexcl_supervised_state_set(t, st, S, bad), FLEXCL_ERR_DATA);
    CU_ASSERT(strstr(flexcl_error_message(), "inconsistent") != NULL);
    memcpy(bad, clock, sizeof bad);
    bad[FLEXCL_SUP_CLOCK_POSITION] = 0; /* between epochs with a loss sum */
    bad[FLEXCL_SUP_CLOCK_ROWS] = 0;
    CU_ASSERT_EQUAL(flexcl_supervised_state_set(t, st, S, bad), FLEXCL_ERR_DATA);
    CU_ASSERT(strstr(flexcl_error_message(), "loss sum") != NULL);
    memcpy(bad, clock, sizeof bad);
    bad[FLEXCL_SUP_CLOCK_REMAINING] = 2; /* an aol phase in a dpt trainer */
    CU_ASSERT_EQUAL(flexcl_supervised_state_set(t, st, S, bad), FLEXCL_ERR_DATA);
    CU_ASSERT(strstr(flexcl_error_message(), "aol phase (type 0, 2 steps left)") != NULL);
    CU_ASSERT(memcmp(before, flexcl_supervised_params(t), P * sizeof *before) == 0);
    CU_ASSERT_EQUAL(flexcl_supervised_epoch_position(t), 10);

    CU_ASSERT_EQUAL(flexcl_supervised_advance(t, test_set, 1, &done, NULL), FLEXCL_ERR_DATA);
    CU_ASSERT(strstr(flexcl_error_message(), "in progress over 2000 rows") != NULL);
    CU_ASSERT_EQUAL(flexcl_supervised_epoch_position(t), 10);
    flexcl_supervised_destroy(&t);
    free(st);
    free(before);

    /* ff under aol with fixed T = 5: after 10 updates no phase is in
     * progress; a type outside {0, 1}, a positive phase with no steps left
     * or 5 steps left (at most 4 after a step) are refused, 4 is not. */
    t = small_trainer(FLEXCL_SUP_FF, FLEXCL_EST_AOL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(t);
    const size_t Sf = flexcl_supervised_state_size(t);
    st = calloc(Sf, sizeof *st);
    CU_ASSERT_PTR_NOT_NULL_FATAL(st);
    CU_ASSERT_EQUAL(flexcl_supervised_advance(t, train_set, 10, &done, NULL), FLEXCL_OK);
    flexcl_supervised_state_get(t, st, clock);
    CU_ASSERT_EQUAL(clock[FLEXCL_SUP_CLOCK_PHASE], 0);
    CU_ASSERT_EQUAL(clock[FLEXCL_SUP_CLOCK_REMAINING], 0);
    const uint64_t phases[][2] = {{2, 3}, {1, 0}, {0, 5}, {1, 5}};
    for (size_t k = 0; k < sizeof phases / sizeof phases[0]; ++k) {
        memcpy(bad, clock, sizeof bad);
        bad[FLEXCL_SUP_CLOCK_PHASE] = phases[k][0];
        bad[FLEXCL_SUP_CLOCK_REMAINING] = phases[k][1];
        CU_ASSERT_EQUAL(flexcl_supervised_state_set(t, st, Sf, bad), FLEXCL_ERR_DATA);
        CU_ASSERT(strstr(flexcl_error_message(), "is impossible for this ff trainer under "
                                                 "aol, law fixed") != NULL);
    }
    bad[FLEXCL_SUP_CLOCK_REMAINING] = 4;
    CU_ASSERT_EQUAL(flexcl_supervised_state_set(t, st, Sf, bad), FLEXCL_OK);
    flexcl_supervised_destroy(&t);
    free(st);
}

int main(void)
{
    omp_set_num_threads(1);
    openblas_set_num_threads(1);
    train_set = fmnist_load(FMNIST "train-images-idx3-ubyte.gz",
                            FMNIST "train-labels-idx1-ubyte.gz", 2000, 0);
    test_set = fmnist_load(FMNIST "t10k-images-idx3-ubyte.gz",
                           FMNIST "t10k-labels-idx1-ubyte.gz", 1000, 0);
    if (CU_initialize_registry() != CUE_SUCCESS) return 1;
    test_case cases[] = {
        {"errors", test_errors},
        {"tables", test_tables},
        {"blocks", test_blocks},
        {"backprop_learns", test_backprop},
        {"dpt_learns", test_dpt},
        {"dp_learns", test_dp},
        {"ff_learns", test_ff},
        {"threads_dpt_bitwise", test_threads_dpt},
        {"threads_ff_bitwise", test_threads_ff},
        {"advance_slices_dpt_bitwise", test_advance_dpt},
        {"advance_slices_ff_bitwise", test_advance_ff},
        {"advance_slices_ff_aol_bitwise", test_advance_ff_aol},
        {"snapshot_round_trip_dpt", test_snapshot_dpt},
        {"snapshot_round_trip_ff", test_snapshot_ff},
        {"snapshot_round_trip_ff_aol", test_snapshot_ff_aol},
        {"snapshot_errors", test_snapshot_errors},
    };
    if (add_suite("supervised", cases, sizeof cases / sizeof *cases)) return 1;
    int rc = run_all();
    flexcl_data_destroy(&train_set);
    flexcl_data_destroy(&test_set);
    return rc ? 1 : 0;
}
