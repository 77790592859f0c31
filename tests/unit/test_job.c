/* Unit tests for flexcl/job.h: defaults, every value type, lists and
 * linspace/logspace, the grid order with axes and replicates, normalised
 * point values, --set overrides, the experiment keys of [run] and [theta0],
 * sub-grids [grid.NAME] (order, counts, union axes, names, locations,
 * overrides, errors), the key table, flexcl_job_load through MPI (on
 * MPI_COMM_WORLD of a singleton run) and one bad input per error class,
 * each checked for FLEXCL_ERR_JOB and a message that names the place. */
#include <CUnit/Basic.h>
#include <math.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "flexcl/error.h"
#include "flexcl/job.h"
#include "flexcl/model.h"
#include "flexcl/rbm.h"

#define FILE_NAME "job.ini"

/* Helpers ------------------------------------------------------------------*/

static flexcl_job *create_ok(const char *text, size_t n_ov,
                             const char *const *ov)
{
    flexcl_job *job = NULL;
    flexcl_code rc = flexcl_job_create(text, FILE_NAME, n_ov, ov, &job);
    if (rc != FLEXCL_OK)
        fprintf(stderr, "\nunexpected error for job text:\n%s\n-> %s\n", text,
                flexcl_error_message());
    CU_ASSERT_EQUAL(rc, FLEXCL_OK);
    return job;
}

static flexcl_settings point(const flexcl_job *job, size_t i)
{
    flexcl_settings s;
    memset(&s, 0, sizeof s);
    CU_ASSERT_EQUAL(flexcl_job_point(job, i, &s), FLEXCL_OK);
    return s;
}

/* The job must fail with FLEXCL_ERR_JOB, leave *out NULL, and produce a
 * one-line message that contains every non-NULL needle. */
static void expect_error_ov(const char *text, size_t n_ov,
                            const char *const *ov, const char *needle1,
                            const char *needle2)
{
    flexcl_job *job = NULL;
    flexcl_code rc = flexcl_job_create(text, FILE_NAME, n_ov, ov, &job);
    const char *msg = flexcl_error_message();
    int ok = rc == FLEXCL_ERR_JOB && job == NULL &&
             strchr(msg, '\n') == NULL &&
             (needle1 == NULL || strstr(msg, needle1) != NULL) &&
             (needle2 == NULL || strstr(msg, needle2) != NULL);
    if (!ok)
        fprintf(stderr,
                "\nbad input not reported as expected:\n%s\n-> code %s, "
                "message '%s'; wanted '%s' and '%s'\n",
                text, flexcl_code_name(rc), msg, needle1 ? needle1 : "",
                needle2 ? needle2 : "");
    CU_ASSERT_EQUAL(rc, FLEXCL_ERR_JOB);
    CU_ASSERT_PTR_NULL(job);
    CU_ASSERT(ok);
    flexcl_job_destroy(&job);
}

static void expect_error(const char *text, const char *needle1,
                         const char *needle2)
{
    expect_error_ov(text, 0, NULL, needle1, needle2);
}

/* Defaults -----------------------------------------------------------------*/

static void test_defaults(void)
{
    flexcl_settings d;
    flexcl_settings_default(&d);
    CU_ASSERT_EQUAL(d.run.experiment, FLEXCL_EXP_TRAIN);
    CU_ASSERT_EQUAL(d.run.seed, 1);
    CU_ASSERT_EQUAL(d.run.steps, 400000);
    CU_ASSERT_EQUAL(d.run.eval_every, 20000);
    CU_ASSERT_EQUAL(d.run.replicates, 1);
    CU_ASSERT_EQUAL(d.run.learners_per_rank, 1);
    CU_ASSERT_EQUAL(d.run.average_every, 0);
    CU_ASSERT_EQUAL(d.run.same_init, 1);
    CU_ASSERT_EQUAL(d.run.threads, 0);
    CU_ASSERT_EQUAL(d.run.samples, 20000);
    CU_ASSERT_EQUAL(d.run.raw_samples, 1000);
    CU_ASSERT_EQUAL(d.run.chains, 64);
    CU_ASSERT_EQUAL(d.run.sampler, FLEXCL_SAMPLER_EXACT);
    CU_ASSERT_EQUAL(d.theta0.source, FLEXCL_THETA0_TRAIN);
    CU_ASSERT_EQUAL(d.theta0.updates, 2000);
    CU_ASSERT_EQUAL(d.theta0.eta, 0.05);
    CU_ASSERT_EQUAL(d.theta0.k, 10);
    CU_ASSERT_STRING_EQUAL(d.theta0.file, "");
    CU_ASSERT_EQUAL(d.theta0.point, 0);
    CU_ASSERT_EQUAL(d.theta0.learner, 0);
    CU_ASSERT_EQUAL(d.data.source, FLEXCL_DATA_BAS);
    CU_ASSERT_EQUAL(d.data.bas_n, 4);
    CU_ASSERT_STRING_EQUAL(d.data.images, "/usr/share/datasets/fashion-mnist/"
                                          "train-images-idx3-ubyte.gz");
    CU_ASSERT_STRING_EQUAL(d.data.labels, "/usr/share/datasets/fashion-mnist/"
                                          "train-labels-idx1-ubyte.gz");
    CU_ASSERT_EQUAL(d.data.threshold, 0.8);
    CU_ASSERT_EQUAL(d.data.label_block, 0);
    CU_ASSERT_EQUAL(d.data.n_classes, 10);
    CU_ASSERT_EQUAL(d.data.max_rows, 0);
    CU_ASSERT_STRING_EQUAL(d.model.kind, "rbm");
    CU_ASSERT_EQUAL(d.model.n_hidden, 16);
    CU_ASSERT_EQUAL(d.model.visible_bias, 1);
    CU_ASSERT_EQUAL(d.model.init_sigma, 0.01);
    CU_ASSERT_EQUAL(d.estimator.kind, FLEXCL_EST_ISD);
    CU_ASSERT_EQUAL(d.estimator.eta, 0.005);
    CU_ASSERT_EQUAL(d.estimator.b, 0.5);
    CU_ASSERT_EQUAL(d.estimator.weights, FLEXCL_WEIGHTS_IMPORTANCE);
    CU_ASSERT_EQUAL(d.estimator.tau, 200.0);
    CU_ASSERT_EQUAL(d.estimator.law, FLEXCL_LAW_FIXED);
    CU_ASSERT_EQUAL(d.estimator.uniform_halfwidth, 0);
    CU_ASSERT_EQUAL(d.estimator.persistent, 0);
    CU_ASSERT_EQUAL(d.estimator.batch, 1);
    CU_ASSERT_EQUAL(d.optim.kind, FLEXCL_OPTIM_SGD);
    CU_ASSERT_EQUAL(d.optim.beta1, 0.9);
    CU_ASSERT_EQUAL(d.optim.beta2, 0.999);
    CU_ASSERT_EQUAL(d.optim.epsilon, 1e-8);

    /* An empty job (and one with only comments) is all defaults, one point. */
    const char *texts[] = {"", "; only a comment\n# another\n\n",
                           "[run]\n[data]\n[model]\n[estimator]\n[optim]\n"
                           "[theta0]\n"};
    for (size_t t = 0; t < 3; ++t) {
        flexcl_job *job = create_ok(texts[t], 0, NULL);
        if (job == NULL) continue;
        CU_ASSERT_EQUAL(flexcl_job_n_points(job), 1);
        CU_ASSERT_EQUAL(flexcl_job_n_axes(job), 0);
        CU_ASSERT_EQUAL(flexcl_job_point_replicate(job, 0), 0);
        CU_ASSERT_STRING_EQUAL(flexcl_job_text(job), texts[t]);
        CU_ASSERT_STRING_EQUAL(flexcl_job_filename(job), FILE_NAME);
        flexcl_settings s = point(job, 0);
        CU_ASSERT_EQUAL(memcmp(&s, &d, sizeof s), 0);
        flexcl_job_destroy(&job);
        CU_ASSERT_PTR_NULL(job);
    }
    flexcl_job_destroy(NULL);
}

/* Every type ---------------------------------------------------------------*/

static void test_types(void)
{
    const char *text =
        "\xEF\xBB\xBF; a job that sets every key\r\n"
        "[run]\r\n"
        "experiment = train\n"
        "seed = 18446744073709551615\n"
        "steps=1000   ; inline comment\n"
        "eval_every : 100\n"
        "  replicates = +3\n"
        "learners_per_rank = 1024\n"
        "average_every = 50 # hash comment\n"
        "same_init = Off\n"
        "threads = 0\n"
        "[data]\n"
        "source = idx\n"
        "bas_n = 12\n"
        "images = /tmp/my dir/a#b;c.gz\n"
        "labels =\n"
        "threshold = -1\n"
        "label_block = no\n"
        "n_classes = 1000\n"
        "max_rows = 60000\n"
        "[ model ]\n"
        "kind = rbm\n"
        "n_hidden = 100000\n"
        "visible_bias = FALSE\n"
        "init_sigma = 0\n"
        "[estimator]\n"
        "kind = two_term\n"
        "eta = 1e-3\n"
        "b = 0.25\n"
        "weights = swapped\n"
        "tau = 1\n"
        "law = geometric\n"
        "uniform_halfwidth = 7\n"
        "persistent = yes\n"
        "batch = 100000\n"
        "[optim]\n"
        "kind = adam\n"
        "beta1 = 0\n"
        "beta2 = 0.5\n"
        "epsilon = 1E-12\n";
    flexcl_job *job = create_ok(text, 0, NULL);
    if (job == NULL) return;
    CU_ASSERT_EQUAL(flexcl_job_n_points(job), 3);
    CU_ASSERT_EQUAL(flexcl_job_n_axes(job), 0);
    flexcl_settings s = point(job, 2);
    CU_ASSERT_EQUAL(flexcl_job_point_replicate(job, 2), 2);
    CU_ASSERT_EQUAL(s.run.experiment, FLEXCL_EXP_TRAIN);
    CU_ASSERT_EQUAL(s.run.seed, UINT64_MAX);
    CU_ASSERT_EQUAL(s.run.steps, 1000);
    CU_ASSERT_EQUAL(s.run.eval_every, 100);
    CU_ASSERT_EQUAL(s.run.replicates, 3);
    CU_ASSERT_EQUAL(s.run.learners_per_rank, 1024);
    CU_ASSERT_EQUAL(s.run.average_every, 50);
    CU_ASSERT_EQUAL(s.run.same_init, 0);
    CU_ASSERT_EQUAL(s.run.threads, 0);
    CU_ASSERT_EQUAL(s.data.source, FLEXCL_DATA_IDX);
    CU_ASSERT_EQUAL(s.data.bas_n, 12);
    CU_ASSERT_STRING_EQUAL(s.data.images, "/tmp/my dir/a#b;c.gz");
    CU_ASSERT_STRING_EQUAL(s.data.labels, "");
    CU_ASSERT_EQUAL(s.data.threshold, -1.0);
    CU_ASSERT_EQUAL(s.data.label_block, 0);
    CU_ASSERT_EQUAL(s.data.n_classes, 1000);
    CU_ASSERT_EQUAL(s.data.max_rows, 60000);
    CU_ASSERT_STRING_EQUAL(s.model.kind, "rbm");
    CU_ASSERT_EQUAL(s.model.n_hidden, 100000);
    CU_ASSERT_EQUAL(s.model.visible_bias, 0);
    CU_ASSERT_EQUAL(s.model.init_sigma, 0.0);
    CU_ASSERT_EQUAL(s.estimator.kind, FLEXCL_EST_TWO_TERM);
    CU_ASSERT_EQUAL(s.estimator.eta, 1e-3);
    CU_ASSERT_EQUAL(s.estimator.b, 0.25);
    CU_ASSERT_EQUAL(s.estimator.weights, FLEXCL_WEIGHTS_SWAPPED);
    CU_ASSERT_EQUAL(s.estimator.tau, 1.0);
    CU_ASSERT_EQUAL(s.estimator.law, FLEXCL_LAW_GEOMETRIC);
    CU_ASSERT_EQUAL(s.estimator.uniform_halfwidth, 7);
    CU_ASSERT_EQUAL(s.estimator.persistent, 1);
    CU_ASSERT_EQUAL(s.estimator.batch, 100000);
    CU_ASSERT_EQUAL(s.optim.kind, FLEXCL_OPTIM_ADAM);
    CU_ASSERT_EQUAL(s.optim.beta1, 0.0);
    CU_ASSERT_EQUAL(s.optim.beta2, 0.5);
    CU_ASSERT_EQUAL(s.optim.epsilon, 1e-12);
    flexcl_job_destroy(&job);

    /* Every spelling of a boolean, and every enum name of every enum key. */
    const struct {
        const char *text;
        int value;
    } bools[] = {{"1", 1},   {"0", 0},     {"true", 1}, {"False", 0},
                 {"YES", 1}, {"no", 0},    {"on", 1},   {"OFF", 0}};
    for (size_t i = 0; i < sizeof bools / sizeof bools[0]; ++i) {
        char t[64];
        snprintf(t, sizeof t, "[estimator]\npersistent = %s\n", bools[i].text);
        job = create_ok(t, 0, NULL);
        if (job == NULL) continue;
        CU_ASSERT_EQUAL(point(job, 0).estimator.persistent, bools[i].value);
        flexcl_job_destroy(&job);
    }
    for (int k = FLEXCL_EST_TWO_TERM; k <= FLEXCL_EST_AOL; ++k)
        for (int l = FLEXCL_LAW_FIXED; l <= FLEXCL_LAW_UNIFORM; ++l)
            for (int w = FLEXCL_WEIGHTS_IMPORTANCE; w <= FLEXCL_WEIGHTS_SWAPPED;
                 ++w) {
                char t[256];
                snprintf(t, sizeof t,
                         "[estimator]\nkind = %s\nlaw = %s\nweights = %s\n",
                         flexcl_estimator_kind_name((flexcl_estimator_kind)k),
                         flexcl_phase_law_name((flexcl_phase_law)l),
                         flexcl_weights_name((flexcl_weights)w));
                job = create_ok(t, 0, NULL);
                if (job == NULL) continue;
                flexcl_settings p = point(job, 0);
                CU_ASSERT_EQUAL((int)p.estimator.kind, k);
                CU_ASSERT_EQUAL((int)p.estimator.law, l);
                CU_ASSERT_EQUAL((int)p.estimator.weights, w);
                flexcl_job_destroy(&job);
            }

    /* A path longer than inih's 200-byte line buffer survives whole, and the
     * line count after it stays right. */
    char path[3001], big[3200];
    memset(path, 'p', sizeof path - 1);
    path[0] = '/';
    path[sizeof path - 1] = '\0';
    snprintf(big, sizeof big, "[data]\nimages = %s ; comment\n[model]\nn_hidden = 3\n",
             path);
    job = create_ok(big, 0, NULL);
    if (job) {
        CU_ASSERT_STRING_EQUAL(point(job, 0).data.images, path);
        CU_ASSERT_EQUAL(point(job, 0).model.n_hidden, 3);
        flexcl_job_destroy(&job);
    }
    snprintf(big, sizeof big, "[data]\nimages = %s\n[model]\nfoo = 3\n", path);
    expect_error(big, FILE_NAME ":4: unknown key model.foo", NULL);
}

/* Lists and grids ----------------------------------------------------------*/

static void test_lists(void)
{
    const char *text = "[estimator]\n"
                       "b = 0.1, 0.20 , 5e-1\n"
                       "eta = linspace(0.25, 1.25, 5)\n"
                       "tau = logspace(1, 1000, 4)\n"
                       "kind = isd, aol\n"
                       "[model]\n"
                       "n_hidden = linspace(8, 32, 4)\n"
                       "init_sigma = logspace(1e-4, 1e-2, 3)\n"
                       "visible_bias = 0, yes\n"
                       "[run]\n"
                       "average_every = logspace(10, 1000, 3)\n";
    flexcl_job *job = create_ok(text, 0, NULL);
    if (job == NULL) return;
    CU_ASSERT_EQUAL(flexcl_job_n_axes(job), 8);
    CU_ASSERT_EQUAL(flexcl_job_n_points(job), 3 * 5 * 4 * 2 * 4 * 3 * 2 * 3);
    const struct {
        const char *name;
        size_t n;
        const char *texts[5];
    } axes[] = {
        {"estimator.b", 3, {"0.1", "0.2", "0.5"}},
        {"estimator.eta", 5, {"0.25", "0.5", "0.75", "1", "1.25"}},
        {"estimator.tau", 4, {"1", "10", "100", "1000"}},
        {"estimator.kind", 2, {"isd", "aol"}},
        {"model.n_hidden", 4, {"8", "16", "24", "32"}},
        {"model.init_sigma", 3, {"0.0001", "0.001", "0.01"}},
        {"model.visible_bias", 2, {"0", "1"}},
        {"run.average_every", 3, {"10", "100", "1000"}},
    };
    /* Point index of axis value j when every other axis is at 0. */
    size_t stride[8];
    size_t s = 1; /* replicates = 1 */
    for (size_t a = 8; a-- > 0;) {
        stride[a] = s;
        s *= axes[a].n;
    }
    for (size_t a = 0; a < 8; ++a) {
        CU_ASSERT_STRING_EQUAL(flexcl_job_axis_name(job, a), axes[a].name);
        CU_ASSERT_EQUAL(flexcl_job_axis_length(job, a), axes[a].n);
        for (size_t j = 0; j < axes[a].n; ++j) {
            const char *v = flexcl_job_point_value(job, j * stride[a], a);
            CU_ASSERT_PTR_NOT_NULL_FATAL(v);
            if (strcmp(v, axes[a].texts[j]) != 0)
                fprintf(stderr, "\naxis %s value %zu: '%s', want '%s'\n",
                        axes[a].name, j, v, axes[a].texts[j]);
            CU_ASSERT_STRING_EQUAL(v, axes[a].texts[j]);
        }
    }
    flexcl_settings p = point(job, 1 * stride[0] + 3 * stride[1] +
                                       2 * stride[2] + 1 * stride[3] +
                                       3 * stride[4] + 1 * stride[5] +
                                       0 * stride[6] + 2 * stride[7]);
    CU_ASSERT_EQUAL(p.estimator.b, 0.2);
    CU_ASSERT_EQUAL(p.estimator.eta, 1.0);
    CU_ASSERT_DOUBLE_EQUAL(p.estimator.tau, 100.0, 1e-12);
    CU_ASSERT_EQUAL(p.estimator.kind, FLEXCL_EST_AOL);
    CU_ASSERT_EQUAL(p.model.n_hidden, 32);
    CU_ASSERT_DOUBLE_EQUAL(p.model.init_sigma, 1e-3, 1e-15);
    CU_ASSERT_EQUAL(p.model.visible_bias, 0);
    CU_ASSERT_EQUAL(p.run.average_every, 1000);
    /* Keys that are not axes keep their defaults. */
    CU_ASSERT_EQUAL(p.estimator.weights, FLEXCL_WEIGHTS_IMPORTANCE);
    CU_ASSERT_EQUAL(p.run.steps, 400000);
    /* Out-of-range queries. */
    CU_ASSERT_PTR_NULL(flexcl_job_axis_name(job, 8));
    CU_ASSERT_EQUAL(flexcl_job_axis_length(job, 8), 0);
    CU_ASSERT_PTR_NULL(flexcl_job_point_value(job, flexcl_job_n_points(job), 0));
    CU_ASSERT_PTR_NULL(flexcl_job_point_value(job, 0, 8));
    CU_ASSERT_EQUAL(flexcl_job_point_replicate(job, flexcl_job_n_points(job)), -1);
    flexcl_settings dummy;
    CU_ASSERT_EQUAL(flexcl_job_point(job, flexcl_job_n_points(job), &dummy),
                    FLEXCL_ERR_ARG);
    flexcl_job_destroy(&job);

    /* A one-point linspace is still an axis; its value is a. */
    job = create_ok("[estimator]\ntau = linspace(50, 60, 1)\n", 0, NULL);
    if (job) {
        CU_ASSERT_EQUAL(flexcl_job_n_axes(job), 1);
        CU_ASSERT_EQUAL(flexcl_job_n_points(job), 1);
        CU_ASSERT_STRING_EQUAL(flexcl_job_point_value(job, 0, 0), "50");
        CU_ASSERT_EQUAL(point(job, 0).estimator.tau, 50.0);
        flexcl_job_destroy(&job);
    }
    /* Exactly a million points is allowed. */
    job = create_ok("[estimator]\neta = linspace(0.001, 1, 1000)\n"
                    "tau = linspace(1, 1000, 1000)\n",
                    0, NULL);
    if (job) {
        CU_ASSERT_EQUAL(flexcl_job_n_points(job), 1000000);
        CU_ASSERT_EQUAL(point(job, 999999).estimator.tau, 1000.0);
        CU_ASSERT_EQUAL(point(job, 999999).estimator.eta, 1.0);
        flexcl_job_destroy(&job);
    }
}

/* The expansion order: two axes and replicates. */
static void test_grid_order(void)
{
    const char *text = "[model]\n"
                       "n_hidden = 4, 8, 16\n"
                       "[run]\n"
                       "replicates = 2\n"
                       "[estimator]\n"
                       "eta = 0.5, 0.25\n";
    flexcl_job *job = create_ok(text, 0, NULL);
    if (job == NULL) return;
    CU_ASSERT_EQUAL(flexcl_job_n_points(job), 12);
    CU_ASSERT_EQUAL(flexcl_job_n_axes(job), 2);
    CU_ASSERT_STRING_EQUAL(flexcl_job_axis_name(job, 0), "model.n_hidden");
    CU_ASSERT_STRING_EQUAL(flexcl_job_axis_name(job, 1), "estimator.eta");
    const int hidden[3] = {4, 8, 16};
    const double eta[2] = {0.5, 0.25};
    const char *hidden_text[3] = {"4", "8", "16"};
    const char *eta_text[2] = {"0.5", "0.25"};
    /* i = ((i_hidden * 2) + i_eta) * 2 + r */
    size_t i = 0;
    for (int h = 0; h < 3; ++h)
        for (int e = 0; e < 2; ++e)
            for (int r = 0; r < 2; ++r, ++i) {
                flexcl_settings s = point(job, i);
                CU_ASSERT_EQUAL(s.model.n_hidden, hidden[h]);
                CU_ASSERT_EQUAL(s.estimator.eta, eta[e]);
                CU_ASSERT_EQUAL(s.run.replicates, 2);
                CU_ASSERT_EQUAL(flexcl_job_point_replicate(job, i), r);
                CU_ASSERT_STRING_EQUAL(flexcl_job_point_value(job, i, 0),
                                       hidden_text[h]);
                CU_ASSERT_STRING_EQUAL(flexcl_job_point_value(job, i, 1),
                                       eta_text[e]);
            }
    flexcl_job_destroy(&job);
}

/* Normalised text of values. */
static void test_point_values(void)
{
    const char *text = "[estimator]\n"
                       "eta = 0.50000, 1e-3, .125, 1E+2, 0.1\n"
                       "kind = aol, two_term\n"
                       "batch = +7, 007\n"
                       "persistent = On, FALSE\n"
                       "[data]\n"
                       "threshold = -0.5, 0.30000000000000004\n"
                       "max_rows = 18446744073709551615, 0\n";
    flexcl_job *job = create_ok(text, 0, NULL);
    if (job == NULL) return;
    const char *want[6][5] = {
        {"0.5", "0.001", "0.125", "100", "0.1"},
        {"aol", "two_term"},
        {"7", "7"},
        {"1", "0"},
        {"-0.5", "0.30000000000000004"},
        {"18446744073709551615", "0"},
    };
    CU_ASSERT_EQUAL_FATAL(flexcl_job_n_axes(job), 6);
    size_t stride = flexcl_job_n_points(job);
    for (size_t a = 0; a < 6; ++a) {
        stride /= flexcl_job_axis_length(job, a);
        for (size_t j = 0; j < flexcl_job_axis_length(job, a); ++j)
            CU_ASSERT_STRING_EQUAL(flexcl_job_point_value(job, j * stride, a),
                                   want[a][j]);
    }
    CU_ASSERT_EQUAL(point(job, flexcl_job_n_points(job) - 1).data.max_rows, 0);
    CU_ASSERT_EQUAL(point(job, 0).data.max_rows, (size_t)18446744073709551615ULL);
    flexcl_job_destroy(&job);
}

/* [grid] zip: listed keys that move together. */
static void test_zip(void)
{
    /* The zipped keys are not adjacent: kind and law share the index of the
     * first of them, eta is the second (fastest) index. */
    const char *text = "[estimator]\n"
                       "kind = two_term, isd, aol\n"
                       "eta = 0.1, 0.2\n"
                       "law = fixed, fixed, geometric\n"
                       "[run]\n"
                       "replicates = 2\n"
                       "[grid]\n"
                       "zip = estimator.kind, estimator.law\n";
    flexcl_job *job = create_ok(text, 0, NULL);
    if (job == NULL) return;
    CU_ASSERT_EQUAL(flexcl_job_n_points(job), 3 * 2 * 2);
    CU_ASSERT_EQUAL_FATAL(flexcl_job_n_axes(job), 3);
    CU_ASSERT_STRING_EQUAL(flexcl_job_axis_name(job, 0), "estimator.kind");
    CU_ASSERT_STRING_EQUAL(flexcl_job_axis_name(job, 1), "estimator.eta");
    CU_ASSERT_STRING_EQUAL(flexcl_job_axis_name(job, 2), "estimator.law");
    CU_ASSERT_EQUAL(flexcl_job_axis_length(job, 2), 3);
    const char *kind[3] = {"two_term", "isd", "aol"};
    const char *law[3] = {"fixed", "fixed", "geometric"};
    const char *eta[2] = {"0.1", "0.2"};
    size_t i = 0;
    for (int z = 0; z < 3; ++z)
        for (int e = 0; e < 2; ++e)
            for (int r = 0; r < 2; ++r, ++i) {
                CU_ASSERT_STRING_EQUAL(flexcl_job_point_value(job, i, 0), kind[z]);
                CU_ASSERT_STRING_EQUAL(flexcl_job_point_value(job, i, 1), eta[e]);
                CU_ASSERT_STRING_EQUAL(flexcl_job_point_value(job, i, 2), law[z]);
                CU_ASSERT_EQUAL(flexcl_job_point_replicate(job, i), r);
                flexcl_settings s = point(job, i);
                CU_ASSERT_EQUAL((int)s.estimator.kind, z);
                CU_ASSERT_EQUAL(s.estimator.law,
                                z == 2 ? FLEXCL_LAW_GEOMETRIC : FLEXCL_LAW_FIXED);
                CU_ASSERT_EQUAL(s.estimator.eta, e ? 0.2 : 0.1);
            }
    flexcl_job_destroy(&job);

    /* The repository's example job: three points, one per estimator. */
    job = create_ok("[estimator]\nkind = two_term, isd, aol\n"
                    "law = fixed, fixed, geometric\n[grid]\n"
                    "zip = estimator.kind, estimator.law\n",
                    0, NULL);
    if (job) {
        CU_ASSERT_EQUAL(flexcl_job_n_points(job), 3);
        flexcl_job_destroy(&job);
    }
    /* An empty zip is no zip; an override can add one. */
    const char *ov[] = {"grid.zip=estimator.b, estimator.tau"};
    job = create_ok("[grid]\nzip =\n[estimator]\nb = 0.2, 0.8\ntau = 10, 20\n",
                    1, ov);
    if (job) {
        CU_ASSERT_EQUAL(flexcl_job_n_points(job), 2);
        CU_ASSERT_EQUAL(point(job, 1).estimator.tau, 20.0);
        CU_ASSERT_EQUAL(point(job, 1).estimator.b, 0.8);
        flexcl_job_destroy(&job);
    }
    /* Errors name grid.zip and its line. */
    const char *lists = "[estimator]\nb = 0.2, 0.8\ntau = 10, 20, 30\neta = 0.1\n[grid]\n";
    const struct {
        const char *zip, *needle;
    } bad[] = {
        {"zip = estimator.b, estimator.tau", "has 2 values but estimator.tau has 3"},
        {"zip = estimator.b, estimator.eta", "estimator.eta is not a list"},
        {"zip = estimator.b, estimator.batch", "estimator.batch is not a list"},
        {"zip = estimator.b, estimator.foo", "'estimator.foo' is not a key"},
        {"zip = estimator.b, estimator.b", "estimator.b is named twice"},
        {"zip = estimator.b", "at least two keys"},
        {"zip = estimator.b, run.steps", "run.steps takes a single value"},
        {"zip = estimator.b,", "'' is not a key"},
    };
    for (size_t j = 0; j < sizeof bad / sizeof bad[0]; ++j) {
        char t[512];
        snprintf(t, sizeof t, "%s%s\n", lists, bad[j].zip);
        expect_error(t, FILE_NAME ":6: grid.zip:", bad[j].needle);
    }
    expect_error("[grid]\nzap = 1\n", FILE_NAME ":2: unknown key grid.zap", NULL);
}

/* Overrides ----------------------------------------------------------------*/

static void test_overrides(void)
{
    const char *text = "[estimator]\n"
                       "eta = 0.005\n"
                       "b = 0.25, 0.75\n"
                       "tau = 10, 20, 30\n";
    /* Replace a scalar, replace a list by a scalar (the axis goes), turn a
     * scalar of the file into a list (its axis keeps the file position), add
     * a scalar and add a list (a new last axis). */
    const char *ov[] = {
        " estimator.eta = 0.01 ", "estimator.b=0.5",
        "model.n_hidden=32",      "optim.kind=adam, sgd",
        "estimator.eta=0.02,0.04",
    };
    flexcl_job *job = create_ok(text, 5, ov);
    if (job == NULL) return;
    CU_ASSERT_EQUAL(flexcl_job_n_axes(job), 3);
    CU_ASSERT_STRING_EQUAL(flexcl_job_axis_name(job, 0), "estimator.eta");
    CU_ASSERT_STRING_EQUAL(flexcl_job_axis_name(job, 1), "estimator.tau");
    CU_ASSERT_STRING_EQUAL(flexcl_job_axis_name(job, 2), "optim.kind");
    CU_ASSERT_EQUAL(flexcl_job_n_points(job), 2 * 3 * 2);
    flexcl_settings s = point(job, 11);
    CU_ASSERT_EQUAL(s.estimator.eta, 0.04);
    CU_ASSERT_EQUAL(s.estimator.b, 0.5);
    CU_ASSERT_EQUAL(s.estimator.tau, 30.0);
    CU_ASSERT_EQUAL(s.model.n_hidden, 32);
    CU_ASSERT_EQUAL(s.optim.kind, FLEXCL_OPTIM_SGD);
    CU_ASSERT_STRING_EQUAL(flexcl_job_point_value(job, 0, 2), "adam");
    /* The text stays verbatim: overrides are not written into it. */
    CU_ASSERT_STRING_EQUAL(flexcl_job_text(job), text);
    flexcl_job_destroy(&job);

    /* The last override of a key wins; an override may fix a bad file value
     * only if the file value itself was valid (values are checked on read). */
    const char *ov2[] = {"run.seed=5", "run.seed=6"};
    job = create_ok("", 2, ov2);
    if (job) {
        CU_ASSERT_EQUAL(point(job, 0).run.seed, 6);
        flexcl_job_destroy(&job);
    }
    /* An override may make the cross-key rules hold. */
    const char *ov3[] = {"run.eval_every=10"};
    job = create_ok("[run]\nsteps = 100\neval_every = 200\n", 1, ov3);
    flexcl_job_destroy(&job);

    /* "" is a value only where it means something (data.labels = none). */
    const char *ov4[] = {"data.labels="};
    job = create_ok("", 1, ov4);
    if (job) {
        CU_ASSERT_STRING_EQUAL(point(job, 0).data.labels, "");
        flexcl_job_destroy(&job);
    }
    /* A cross-key rule broken by an override is reported there. */
    const char *ov5[] = {"run.eval_every=500"};
    expect_error_ov("[run]\nsteps = 100\n", 1, ov5,
                    "--set run.eval_every=500: run.eval_every: 500 exceeds "
                    "run.steps = 100",
                    NULL);
    /* A path longer than the field. */
    static char long_ov[FLEXCL_PATH_MAX + 32];
    strcpy(long_ov, "data.images=/");
    memset(long_ov + strlen(long_ov), 'y', FLEXCL_PATH_MAX);
    const char *ov6[] = {long_ov};
    expect_error_ov("", 1, ov6, "--set data.images=/yyy", "at most 4095");

    /* Bad overrides. */
    const char *bad[][3] = {
        {"estimator.eta", "--set estimator.eta: expected section.key=value", NULL},
        {"eta=0.1", "--set eta=0.1: expected section.key=value", NULL},
        {".eta=0.1", "--set .eta=0.1", "section.key=value"},
        {"estimator.=0.1", "--set estimator.=0.1", "section.key=value"},
        {"foo.bar=1", "--set foo.bar=1: unknown section [foo]", NULL},
        {"model.foo=1", "--set model.foo=1: unknown key model.foo", NULL},
        {"estimator.b=1.5", "--set estimator.b=1.5: estimator.b: 1.5 is outside (0, 1)", NULL},
        {"estimator.eta=", "--set estimator.eta=: estimator.eta: empty value", NULL},
        {"run.steps=1,2", "--set run.steps=1,2: run.steps", "single value"},
        {"estimator.law=uniform", FILE_NAME ":3: estimator.uniform_halfwidth", "estimator.tau = 10"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; ++i) {
        const char *one[] = {bad[i][0]};
        expect_error_ov("[estimator]\ntau = 10\nuniform_halfwidth = 10\n", 1,
                        one, bad[i][1], bad[i][2]);
    }
}

/* The experiment keys of [run] and [theta0] --------------------------------*/

static void test_experiment_keys(void)
{
    const char *text = "[run]\n"
                       "experiment = aol_bias\n"
                       "samples = 5000\n"
                       "raw_samples = 5000\n"
                       "chains = 1000000\n"
                       "sampler = chain\n"
                       "[theta0]\n"
                       "source = file\n"
                       "updates = 0\n"
                       "eta = 1e-3\n"
                       "k = 100000\n"
                       "file = /tmp/theta0 results.h5\n"
                       "point = 7\n"
                       "learner = 3\n";
    flexcl_job *job = create_ok(text, 0, NULL);
    if (job) {
        flexcl_settings s = point(job, 0);
        CU_ASSERT_EQUAL(s.run.experiment, FLEXCL_EXP_AOL_BIAS);
        CU_ASSERT_EQUAL(s.run.samples, 5000);
        CU_ASSERT_EQUAL(s.run.raw_samples, 5000);
        CU_ASSERT_EQUAL(s.run.chains, 1000000);
        CU_ASSERT_EQUAL(s.run.sampler, FLEXCL_SAMPLER_CHAIN);
        CU_ASSERT_EQUAL(s.theta0.source, FLEXCL_THETA0_FILE);
        CU_ASSERT_EQUAL(s.theta0.updates, 0);
        CU_ASSERT_EQUAL(s.theta0.eta, 1e-3);
        CU_ASSERT_EQUAL(s.theta0.k, 100000);
        CU_ASSERT_STRING_EQUAL(s.theta0.file, "/tmp/theta0 results.h5");
        CU_ASSERT_EQUAL(s.theta0.point, 7);
        CU_ASSERT_EQUAL(s.theta0.learner, 3);
        CU_ASSERT_STRING_EQUAL(flexcl_job_key_location(job, "theta0.file"),
                               FILE_NAME ":12");
        flexcl_job_destroy(&job);
    }
    /* The experiment, the sample count and the sampler may form axes. */
    job = create_ok("[run]\nexperiment = train, isd_variance, aol_bias\n"
                    "sampler = exact, chain\nsamples = 1000, 2000\n",
                    0, NULL);
    if (job) {
        CU_ASSERT_EQUAL(flexcl_job_n_points(job), 12);
        CU_ASSERT_EQUAL_FATAL(flexcl_job_n_axes(job), 3);
        CU_ASSERT_STRING_EQUAL(flexcl_job_axis_name(job, 0), "run.experiment");
        CU_ASSERT_STRING_EQUAL(flexcl_job_point_value(job, 4, 0), "isd_variance");
        CU_ASSERT_STRING_EQUAL(flexcl_job_point_value(job, 11, 0), "aol_bias");
        CU_ASSERT_STRING_EQUAL(flexcl_job_point_value(job, 11, 1), "chain");
        CU_ASSERT_STRING_EQUAL(flexcl_job_point_value(job, 11, 2), "2000");
        flexcl_settings s = point(job, 5);
        CU_ASSERT_EQUAL(s.run.experiment, FLEXCL_EXP_ISD_VARIANCE);
        CU_ASSERT_EQUAL(s.run.sampler, FLEXCL_SAMPLER_EXACT);
        CU_ASSERT_EQUAL(s.run.samples, 2000);
        flexcl_job_destroy(&job);
    }
    /* raw_samples may equal samples or be 0; theta0.file matters only for
     * source = file. */
    job = create_ok("[run]\nsamples = 1\nraw_samples = 0\n[theta0]\nsource = init\n",
                    0, NULL);
    flexcl_job_destroy(&job);

    const struct {
        const char *text;
        const char *needle1, *needle2;
    } cases[] = {
        {"[run]\nexperiment = variance\n",
         FILE_NAME ":2: run.experiment: 'variance' is not one of "
                   "train|isd_variance|aol_bias", NULL},
        {"[run]\nsampler = gibbs\n",
         FILE_NAME ":2: run.sampler: 'gibbs' is not one of exact|chain", NULL},
        {"[run]\nsamples = 0\n", FILE_NAME ":2: run.samples: 0 is outside [1, inf)", NULL},
        {"[run]\nchains = 0\n", FILE_NAME ":2: run.chains: 0 is outside [1, 1000000]", NULL},
        {"[run]\nchains = 1000001\n",
         FILE_NAME ":2: run.chains: 1000001 is outside [1, 1000000]", NULL},
        {"[run]\nchains = 8, 16\n", FILE_NAME ":2: run.chains: takes a single value", NULL},
        {"[run]\nraw_samples = 10, 20\n",
         FILE_NAME ":2: run.raw_samples: takes a single value", NULL},
        {"[run]\nraw_samples = -1\n", FILE_NAME ":2: run.raw_samples", "non-negative integer"},
        {"[theta0]\nsource = zero\n",
         FILE_NAME ":2: theta0.source: 'zero' is not one of init|train|file", NULL},
        {"[theta0]\nsource = init, train\n",
         FILE_NAME ":2: theta0.source: takes a single value", NULL},
        {"[theta0]\neta = 0\n", FILE_NAME ":2: theta0.eta: 0 is outside (0, inf)", NULL},
        {"[theta0]\neta = 0.1, 0.2\n", FILE_NAME ":2: theta0.eta: takes a single value", NULL},
        {"[theta0]\nk = 0\n", FILE_NAME ":2: theta0.k: 0 is outside [1, 100000]", NULL},
        {"[theta0]\nk = 100001\n", FILE_NAME ":2: theta0.k: 100001 is outside [1, 100000]", NULL},
        {"[theta0]\nupdates = linspace(1, 10, 10)\n",
         FILE_NAME ":2: theta0.updates: takes a single value", NULL},
        {"[theta0]\npoint = x\n", FILE_NAME ":2: theta0.point", "non-negative integer"},
        {"[theta0]\nlearner = 1.5\n", FILE_NAME ":2: theta0.learner", "non-negative integer"},
        {"[theta0]\nfoo = 1\n", FILE_NAME ":2: unknown key theta0.foo", NULL},
        /* cross-key rules, at every grid point */
        {"[run]\nsamples = 100\n",
         FILE_NAME ":2: run.raw_samples: 1000 exceeds run.samples = 100", NULL},
        {"[run]\nsamples = 5000, 10\nraw_samples = 100\n",
         FILE_NAME ":3: run.raw_samples: 100 exceeds run.samples = 10",
         "grid point 1 (run.samples=10)"},
        {"[theta0]\nsource = file\n",
         FILE_NAME ":2: theta0.source: file needs a non-empty theta0.file", NULL},
        {"[theta0]\nfile =\nsource = file\n",
         FILE_NAME ":3: theta0.source: file needs a non-empty theta0.file", NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; ++i)
        expect_error(cases[i].text, cases[i].needle1, cases[i].needle2);
    /* An override that breaks a rule is named; one that mends it is fine. */
    const char *ov[] = {"run.raw_samples=20001"};
    expect_error_ov("", 1, ov,
                    "--set run.raw_samples=20001: run.raw_samples: 20001 "
                    "exceeds run.samples = 20000",
                    NULL);
    const char *ov2[] = {"theta0.file=/tmp/t.h5"};
    job = create_ok("[theta0]\nsource = file\n", 1, ov2);
    if (job) {
        CU_ASSERT_STRING_EQUAL(point(job, 0).theta0.file, "/tmp/t.h5");
        flexcl_job_destroy(&job);
    }
}

/* Sub-grids ----------------------------------------------------------------*/

/* Two sub-grids: learning curves of three estimators (a zip of kind and
 * law over the base's b and eta axes, two replicates), and an isd_variance
 * scan that replaces the base's b list and adds a tau axis. */
static const char *const subgrid_job =
    "[run]\n"                                      /*  1 */
    "experiment = train\n"                         /*  2 */
    "replicates = 2\n"                             /*  3 */
    "[estimator]\n"                                /*  4 */
    "kind = isd\n"                                 /*  5 */
    "b = 0.25, 0.75\n"                             /*  6 */
    "eta = 0.01, 0.02\n"                           /*  7 */
    "[grid.curves]\n"                              /*  8 */
    "estimator.kind = two_term, isd, aol\n"        /*  9 */
    "estimator.law = fixed, fixed, geometric\n"    /* 10 */
    "zip = estimator.kind, estimator.law\n"        /* 11 */
    "[grid.variance] ; comment\n"                  /* 12 */
    "run.experiment = isd_variance\n"              /* 13 */
    "run.replicates = 1\n"                         /* 14 */
    "estimator.b = linspace(0.1, 0.9, 3)\n"        /* 15 */
    "estimator.tau: 10, 100\n"                     /* 16 */
    "run.samples = 500  # few\n"                   /* 17 */
    "run.raw_samples = 50\n";                      /* 18 */

static void test_subgrids(void)
{
    flexcl_job *job = create_ok(subgrid_job, 0, NULL);
    if (job == NULL) return;
    const size_t n_curves = 2 * 2 * 3 * 2, n_var = 3 * 2 * 2;
    CU_ASSERT_EQUAL(flexcl_job_n_subgrids(job), 2);
    CU_ASSERT_EQUAL_FATAL(flexcl_job_n_points(job), n_curves + n_var);
    /* The union of the axes: the base's first, then the sub-grids' new ones
     * in file order; lengths are the longest lists. */
    const struct {
        const char *name;
        size_t n;
    } axes[] = {{"estimator.b", 3},   {"estimator.eta", 2}, {"estimator.kind", 3},
                {"estimator.law", 3}, {"estimator.tau", 2}};
    CU_ASSERT_EQUAL_FATAL(flexcl_job_n_axes(job), 5);
    for (size_t a = 0; a < 5; ++a) {
        CU_ASSERT_STRING_EQUAL(flexcl_job_axis_name(job, a), axes[a].name);
        CU_ASSERT_EQUAL(flexcl_job_axis_length(job, a), axes[a].n);
    }
    /* [grid.curves]: i = ((i_b * 2 + i_eta) * 3 + i_zip) * 2 + r. */
    const char *b1[] = {"0.25", "0.75"}, *eta[] = {"0.01", "0.02"};
    const char *kind[] = {"two_term", "isd", "aol"};
    const char *law[] = {"fixed", "fixed", "geometric"};
    size_t i = 0;
    for (int ib = 0; ib < 2; ++ib)
        for (int ie = 0; ie < 2; ++ie)
            for (int iz = 0; iz < 3; ++iz)
                for (int r = 0; r < 2; ++r, ++i) {
                    CU_ASSERT_STRING_EQUAL(flexcl_job_point_subgrid(job, i), "curves");
                    CU_ASSERT_EQUAL(flexcl_job_point_replicate(job, i), r);
                    CU_ASSERT_STRING_EQUAL(flexcl_job_point_value(job, i, 0), b1[ib]);
                    CU_ASSERT_STRING_EQUAL(flexcl_job_point_value(job, i, 1), eta[ie]);
                    CU_ASSERT_STRING_EQUAL(flexcl_job_point_value(job, i, 2), kind[iz]);
                    CU_ASSERT_STRING_EQUAL(flexcl_job_point_value(job, i, 3), law[iz]);
                    /* Not listed here: the value in force (the default). */
                    CU_ASSERT_STRING_EQUAL(flexcl_job_point_value(job, i, 4), "200");
                    flexcl_settings s = point(job, i);
                    CU_ASSERT_EQUAL(s.run.experiment, FLEXCL_EXP_TRAIN);
                    CU_ASSERT_EQUAL(s.run.replicates, 2);
                    CU_ASSERT_EQUAL(s.estimator.b, ib ? 0.75 : 0.25);
                    CU_ASSERT_EQUAL(s.estimator.eta, ie ? 0.02 : 0.01);
                    CU_ASSERT_EQUAL((int)s.estimator.kind, iz);
                    CU_ASSERT_EQUAL(s.estimator.law,
                                    iz == 2 ? FLEXCL_LAW_GEOMETRIC : FLEXCL_LAW_FIXED);
                    CU_ASSERT_EQUAL(s.estimator.tau, 200.0);
                    CU_ASSERT_EQUAL(s.run.samples, 20000);
                }
    /* [grid.variance]: its b list replaces the base's in the base's place;
     * tau is new and comes last: i = n_curves + (i_b * 2 + i_eta) * 2 + i_tau. */
    const char *b2[] = {"0.1", "0.5", "0.9"}, *tau[] = {"10", "100"};
    for (int ib = 0; ib < 3; ++ib)
        for (int ie = 0; ie < 2; ++ie)
            for (int it = 0; it < 2; ++it, ++i) {
                CU_ASSERT_STRING_EQUAL(flexcl_job_point_subgrid(job, i), "variance");
                CU_ASSERT_EQUAL(flexcl_job_point_replicate(job, i), 0);
                CU_ASSERT_STRING_EQUAL(flexcl_job_point_value(job, i, 0), b2[ib]);
                CU_ASSERT_STRING_EQUAL(flexcl_job_point_value(job, i, 1), eta[ie]);
                CU_ASSERT_STRING_EQUAL(flexcl_job_point_value(job, i, 2), "isd");
                CU_ASSERT_STRING_EQUAL(flexcl_job_point_value(job, i, 3), "fixed");
                CU_ASSERT_STRING_EQUAL(flexcl_job_point_value(job, i, 4), tau[it]);
                flexcl_settings s = point(job, i);
                CU_ASSERT_EQUAL(s.run.experiment, FLEXCL_EXP_ISD_VARIANCE);
                CU_ASSERT_EQUAL(s.run.replicates, 1);
                CU_ASSERT_DOUBLE_EQUAL(s.estimator.b, 0.1 + 0.4 * ib, 1e-15);
                CU_ASSERT_EQUAL(s.estimator.eta, ie ? 0.02 : 0.01);
                CU_ASSERT_EQUAL(s.estimator.kind, FLEXCL_EST_ISD);
                CU_ASSERT_EQUAL(s.estimator.law, FLEXCL_LAW_FIXED);
                CU_ASSERT_EQUAL(s.estimator.tau, it ? 100.0 : 10.0);
                CU_ASSERT_EQUAL(s.run.samples, 500);
                CU_ASSERT_EQUAL(s.run.raw_samples, 50);
            }
    /* Out of range. */
    const size_t np = flexcl_job_n_points(job);
    CU_ASSERT_PTR_NULL(flexcl_job_point_subgrid(job, np));
    CU_ASSERT_PTR_NULL(flexcl_job_point_value(job, np, 0));
    CU_ASSERT_PTR_NULL(flexcl_job_point_value(job, 0, 5));
    CU_ASSERT_EQUAL(flexcl_job_point_replicate(job, np), -1);
    CU_ASSERT_PTR_NULL(flexcl_job_point_key_location(job, np, "estimator.b"));
    CU_ASSERT_PTR_NULL(flexcl_job_point_key_location(job, 0, "estimator.nope"));

    /* Locations: the value in force at a point, and the first sub-grid that
     * sets a key, else the base. */
    const struct {
        size_t i;
        const char *key, *loc;
    } locs[] = {
        {0, "estimator.b", FILE_NAME ":6"},
        {n_curves, "estimator.b", FILE_NAME ":15"},
        {0, "estimator.kind", FILE_NAME ":9"},
        {n_curves, "estimator.kind", FILE_NAME ":5"},
        {0, "estimator.tau", "default"},
        {n_curves + 3, "estimator.tau", FILE_NAME ":16"},
        {0, "grid.zip", FILE_NAME ":11"},
        {n_curves, "grid.zip", "default"},
        {1, "run.replicates", FILE_NAME ":3"},
        {n_curves, "run.replicates", FILE_NAME ":14"},
    };
    for (size_t j = 0; j < sizeof locs / sizeof locs[0]; ++j)
        CU_ASSERT_STRING_EQUAL(flexcl_job_point_key_location(job, locs[j].i, locs[j].key),
                               locs[j].loc);
    CU_ASSERT_STRING_EQUAL(flexcl_job_key_location(job, "estimator.b"), FILE_NAME ":15");
    CU_ASSERT_STRING_EQUAL(flexcl_job_key_location(job, "estimator.kind"), FILE_NAME ":9");
    CU_ASSERT_STRING_EQUAL(flexcl_job_key_location(job, "estimator.eta"), FILE_NAME ":7");
    CU_ASSERT_STRING_EQUAL(flexcl_job_key_location(job, "estimator.weights"), "default");
    CU_ASSERT_PTR_NULL(flexcl_job_key_location(job, "estimator.nope"));
    CU_ASSERT_STRING_EQUAL(flexcl_job_text(job), subgrid_job);
    flexcl_job_destroy(&job);

    /* A job without sub-grids has none, and every point's sub-grid is "". */
    job = create_ok("[estimator]\nb = 0.2, 0.4\n", 0, NULL);
    if (job) {
        CU_ASSERT_EQUAL(flexcl_job_n_subgrids(job), 0);
        CU_ASSERT_STRING_EQUAL(flexcl_job_point_subgrid(job, 1), "");
        CU_ASSERT_STRING_EQUAL(flexcl_job_point_key_location(job, 1, "estimator.b"),
                               FILE_NAME ":2");
        flexcl_job_destroy(&job);
    }

    /* The base's zip applies to every sub-grid unless one sets its own;
     * "zip =" drops it. A sub-grid scalar replaces a base list: the key is
     * still an axis of the job, with that scalar's text at its points.
     * Sections may alternate: keys after [estimator] are the base's again,
     * and a sub-grid that sets nothing is the base's grid. */
    const char *text = "[grid.same]\n"
                       "[grid.nozip]\n"
                       "zip =\n"
                       "[estimator]\n"
                       "kind = two_term, aol\n"
                       "law = fixed, geometric\n"
                       "[grid]\n"
                       "zip = estimator.kind, estimator.law\n"
                       "[grid.scalar]\n"
                       "estimator.kind = isd\n"
                       "estimator.law = uniform\n"
                       "estimator.uniform_halfwidth = 3\n"
                       "zip = ; none\n"
                       "[estimator]\n"
                       "eta = 0.5\n";
    job = create_ok(text, 0, NULL);
    if (job) {
        CU_ASSERT_EQUAL(flexcl_job_n_subgrids(job), 3);
        CU_ASSERT_EQUAL_FATAL(flexcl_job_n_points(job), 2 + 4 + 1);
        CU_ASSERT_EQUAL_FATAL(flexcl_job_n_axes(job), 2);
        CU_ASSERT_STRING_EQUAL(flexcl_job_axis_name(job, 0), "estimator.kind");
        CU_ASSERT_STRING_EQUAL(flexcl_job_axis_name(job, 1), "estimator.law");
        const char *want[7][3] = {
            {"same", "two_term", "fixed"},   {"same", "aol", "geometric"},
            {"nozip", "two_term", "fixed"},  {"nozip", "two_term", "geometric"},
            {"nozip", "aol", "fixed"},       {"nozip", "aol", "geometric"},
            {"scalar", "isd", "uniform"},
        };
        for (size_t j = 0; j < 7; ++j) {
            CU_ASSERT_STRING_EQUAL(flexcl_job_point_subgrid(job, j), want[j][0]);
            CU_ASSERT_STRING_EQUAL(flexcl_job_point_value(job, j, 0), want[j][1]);
            CU_ASSERT_STRING_EQUAL(flexcl_job_point_value(job, j, 1), want[j][2]);
            CU_ASSERT_EQUAL(point(job, j).estimator.eta, 0.5);
        }
        CU_ASSERT_EQUAL(point(job, 6).estimator.uniform_halfwidth, 3);
        CU_ASSERT_EQUAL(point(job, 5).estimator.uniform_halfwidth, 0);
        flexcl_job_destroy(&job);
    }

    /* A key the base sets as a scalar and a sub-grid lists is new there: it
     * comes after the base's axes. */
    job = create_ok("[estimator]\nb = 0.5\neta = 0.1, 0.2\n[grid.a]\n"
                    "estimator.b = 0.3, 0.6, 0.9\n",
                    0, NULL);
    if (job) {
        CU_ASSERT_EQUAL_FATAL(flexcl_job_n_axes(job), 2);
        CU_ASSERT_STRING_EQUAL(flexcl_job_axis_name(job, 0), "estimator.eta");
        CU_ASSERT_STRING_EQUAL(flexcl_job_axis_name(job, 1), "estimator.b");
        CU_ASSERT_STRING_EQUAL(flexcl_job_point_value(job, 1, 1), "0.6");
        CU_ASSERT_STRING_EQUAL(flexcl_job_point_value(job, 3, 0), "0.2");
        flexcl_job_destroy(&job);
    }

    /* A long sub-grid name survives whole (inih cuts section names). */
    char name[101], t[256];
    memset(name, 'n', sizeof name - 1);
    name[sizeof name - 1] = '\0';
    name[7] = '-';
    name[9] = '_';
    snprintf(t, sizeof t, "[grid.%s]\nestimator.b = 0.3\n[grid.X9]\n", name);
    job = create_ok(t, 0, NULL);
    if (job) {
        CU_ASSERT_EQUAL(flexcl_job_n_points(job), 2);
        CU_ASSERT_STRING_EQUAL(flexcl_job_point_subgrid(job, 0), name);
        CU_ASSERT_STRING_EQUAL(flexcl_job_point_subgrid(job, 1), "X9");
        CU_ASSERT_EQUAL(point(job, 0).estimator.b, 0.3);
        CU_ASSERT_EQUAL(point(job, 1).estimator.b, 0.5);
        flexcl_job_destroy(&job);
    }

    /* Exactly a million points over all sub-grids is allowed. */
    job = create_ok("[estimator]\ntau = linspace(1, 1000, 1000)\n"
                    "[grid.a]\nestimator.eta = linspace(0.1, 1, 600)\n"
                    "[grid.b]\nestimator.eta = linspace(0.1, 1, 200)\n"
                    "run.replicates = 2\n",
                    0, NULL);
    if (job) {
        CU_ASSERT_EQUAL(flexcl_job_n_points(job), 1000000);
        CU_ASSERT_STRING_EQUAL(flexcl_job_point_subgrid(job, 599999), "a");
        CU_ASSERT_STRING_EQUAL(flexcl_job_point_subgrid(job, 600000), "b");
        CU_ASSERT_EQUAL(flexcl_job_point_replicate(job, 999999), 1);
        CU_ASSERT_EQUAL(point(job, 999999).estimator.tau, 1000.0);
        CU_ASSERT_EQUAL(point(job, 999999).estimator.eta, 1.0);
        flexcl_job_destroy(&job);
    }
}

/* --set replaces a key everywhere: in the base and in every sub-grid. */
static void test_subgrid_overrides(void)
{
    const char *ov[] = {"estimator.b=0.5", "estimator.tau=1, 2", "run.replicates=3"};
    flexcl_job *job = create_ok(subgrid_job, 3, ov);
    if (job == NULL) return;
    /* b is a scalar everywhere, tau a base list (after the base's axes,
     * before the sub-grids' new ones), replicates 3 in both sub-grids. */
    const size_t n_curves = 2 * 2 * 3 * 3, n_var = 2 * 2 * 3;
    CU_ASSERT_EQUAL_FATAL(flexcl_job_n_points(job), n_curves + n_var);
    const char *names[] = {"estimator.eta", "estimator.tau", "estimator.kind",
                           "estimator.law"};
    CU_ASSERT_EQUAL_FATAL(flexcl_job_n_axes(job), 4);
    for (size_t a = 0; a < 4; ++a)
        CU_ASSERT_STRING_EQUAL(flexcl_job_axis_name(job, a), names[a]);
    /* curves: i = ((i_eta * 2 + i_tau) * 3 + i_zip) * 3 + r */
    size_t i = ((1 * 2 + 1) * 3 + 2) * 3 + 2;
    CU_ASSERT_STRING_EQUAL(flexcl_job_point_subgrid(job, i), "curves");
    CU_ASSERT_EQUAL(flexcl_job_point_replicate(job, i), 2);
    flexcl_settings s = point(job, i);
    CU_ASSERT_EQUAL(s.estimator.b, 0.5);
    CU_ASSERT_EQUAL(s.estimator.eta, 0.02);
    CU_ASSERT_EQUAL(s.estimator.tau, 2.0);
    CU_ASSERT_EQUAL(s.estimator.kind, FLEXCL_EST_AOL);
    /* variance: i = n_curves + (i_eta * 2 + i_tau) * 3 + r */
    i = n_curves + (0 * 2 + 1) * 3 + 1;
    CU_ASSERT_STRING_EQUAL(flexcl_job_point_subgrid(job, i), "variance");
    CU_ASSERT_EQUAL(flexcl_job_point_replicate(job, i), 1);
    s = point(job, i);
    CU_ASSERT_EQUAL(s.estimator.b, 0.5);
    CU_ASSERT_EQUAL(s.estimator.tau, 2.0);
    CU_ASSERT_EQUAL(s.run.experiment, FLEXCL_EXP_ISD_VARIANCE);
    CU_ASSERT_EQUAL(s.run.replicates, 3);
    CU_ASSERT_STRING_EQUAL(flexcl_job_point_value(job, i, 1), "2");
    CU_ASSERT_STRING_EQUAL(flexcl_job_key_location(job, "estimator.b"),
                           "--set estimator.b=0.5");
    CU_ASSERT_STRING_EQUAL(flexcl_job_point_key_location(job, i, "run.replicates"),
                           "--set run.replicates=3");
    CU_ASSERT_STRING_EQUAL(flexcl_job_point_key_location(job, i, "run.experiment"),
                           FILE_NAME ":13");
    flexcl_job_destroy(&job);

    /* An override of grid.zip replaces every sub-grid's zip as well. */
    const char *ov2[] = {"grid.zip="};
    job = create_ok(subgrid_job, 1, ov2);
    if (job) {
        CU_ASSERT_EQUAL(flexcl_job_n_points(job), 2 * 2 * 3 * 3 * 2 + 3 * 2 * 2);
        flexcl_job_destroy(&job);
    }
    /* A rule broken by an override is reported at the first point that
     * breaks it, naming the sub-grid. */
    const char *ov3[] = {"run.samples=10"};
    expect_error_ov(subgrid_job, 1, ov3,
                    "--set run.samples=10: run.raw_samples: 1000 exceeds "
                    "run.samples = 10 at grid point 0 in [grid.curves] "
                    "(estimator.b=0.25, estimator.eta=0.01, "
                    "estimator.kind=two_term, estimator.law=fixed)",
                    NULL);
    /* ... and one that mends it everywhere is fine. */
    const char *ov4[] = {"run.samples=100", "run.raw_samples=100"};
    job = create_ok(subgrid_job, 2, ov4);
    if (job) {
        CU_ASSERT_EQUAL(point(job, flexcl_job_n_points(job) - 1).run.raw_samples, 100);
        flexcl_job_destroy(&job);
    }
}

/* Every error class of sub-grids names FILE:LINE and the key. */
static void test_subgrid_errors(void)
{
    const struct {
        const char *text;
        const char *needle1, *needle2;
    } cases[] = {
        /* names */
        {"[grid.]\n", FILE_NAME ":1: [grid.]: empty sub-grid name", NULL},
        {"[estimator]\n\n[grid. ]\n", FILE_NAME ":3: [grid.]: empty sub-grid name", NULL},
        {"[grid.a b]\n", FILE_NAME ":1: [grid.a b]: a sub-grid name may only hold", NULL},
        {"[grid.a.b]\n", FILE_NAME ":1: [grid.a.b]: a sub-grid name may only hold", NULL},
        {"[grid.a]\n[grid.b]\nestimator.b = 0.1\n[grid.a]\n",
         FILE_NAME ":4: [grid.a]: duplicate sub-grid name (first at line 1)", NULL},
        {"[grid.a] x\n", FILE_NAME ":1: unexpected text after [grid.a]", NULL},
        {"[grid.foo]\nestimator.b = 0.1\n[gridfoo]\n", FILE_NAME ":3: unknown section [gridfoo]", NULL},
        /* keys */
        {"[grid.a]\nestimator.foo = 1\n", FILE_NAME ":2: unknown key estimator.foo in [grid.a]", NULL},
        {"[grid.a]\nfoo.bar = 1\n", FILE_NAME ":2: unknown key foo.bar in [grid.a]", NULL},
        {"[grid.a]\ngrid.a.b = 1\n", FILE_NAME ":2: unknown key grid.a.b in [grid.a]", NULL},
        {"[grid.a]\nb = 0.5\n",
         FILE_NAME ":2: b: keys in [grid.a] are written section.key", NULL},
        {"[grid.a]\n.b = 0.5\n", FILE_NAME ":2: .b: keys in [grid.a]", "section.key"},
        {"[grid.a]\nestimator. = 0.5\n", FILE_NAME ":2: estimator.: keys in [grid.a]", NULL},
        {"[grid.a]\n= 0.5\n", FILE_NAME ":2: missing key name", NULL},
        {"[grid.a]\nestimator.b\n", FILE_NAME ":2: INI syntax error", NULL},
        {"[grid.a]\nestimator.b = 0.1\nestimator.b = 0.2\n",
         FILE_NAME ":3: estimator.b: duplicated key (first set at line 2)", NULL},
        {"[grid.a]\nzip = estimator.b, estimator.tau\ngrid.zip =\n",
         FILE_NAME ":3: grid.zip: duplicated key (first set at line 2)", NULL},
        /* values, with the base's rules */
        {"[grid.a]\nestimator.b = 1.5\n", FILE_NAME ":2: estimator.b: 1.5 is outside (0, 1)", NULL},
        {"[grid.a]\nestimator.eta =\n", FILE_NAME ":2: estimator.eta: empty value", NULL},
        {"[grid.a]\nrun.steps = 10, 20\n", FILE_NAME ":2: run.steps: takes a single value", NULL},
        {"[grid.a]\ntheta0.eta = linspace(0.1, 1, 2)\n",
         FILE_NAME ":2: theta0.eta: takes a single value", NULL},
        {"[grid.a]\nmodel.kind = nosuch\n", FILE_NAME ":2: model.kind: 'nosuch' is not a registered", NULL},
        {"[grid.a]\nzip = estimator.b\n", FILE_NAME ":2: grid.zip: needs at least two keys", NULL},
        {"[grid.a]\nzip = estimator.b, run.steps\n",
         FILE_NAME ":2: grid.zip: run.steps takes a single value", NULL},
        {"[grid.a]\nzip = estimator.b, estimator.tau\n",
         FILE_NAME ":2: grid.zip: estimator.b is not a list", NULL},
        {"[grid.a]\nestimator.b = 0.1, 0.2\nestimator.tau = 5\nzip = estimator.b, estimator.tau\n",
         FILE_NAME ":4: grid.zip: estimator.tau is not a list", NULL},
        /* the base's zip in a sub-grid that makes a zipped key a scalar */
        {"[estimator]\nkind = isd, aol\nlaw = fixed, geometric\n[grid]\n"
         "zip = estimator.kind, estimator.law\n[grid.ok]\n[grid.a]\nestimator.kind = isd\n",
         FILE_NAME ":5: grid.zip: estimator.kind is not a list",
         "lists of equal length) in [grid.a]"},
        {"[estimator]\nkind = isd, aol\nlaw = fixed, geometric\n[grid]\n"
         "zip = estimator.kind, estimator.law\n[grid.a]\nestimator.law = fixed, fixed, geometric\n",
         FILE_NAME ":5: grid.zip: estimator.kind has 2 values but estimator.law has 3 in [grid.a]",
         NULL},
        /* cross-key rules at every point of every sub-grid */
        {"[estimator]\nlaw = uniform\nuniform_halfwidth = 5\n[grid.ok]\nestimator.tau = 10\n"
         "[grid.bad]\nestimator.tau = 20, 5\n",
         FILE_NAME ":7: estimator.uniform_halfwidth: 5 is not below estimator.tau = 5",
         "at grid point 2 in [grid.bad] (estimator.tau=5)"},
        {"[grid.ok]\n[grid.a]\ntheta0.source = file\n",
         FILE_NAME ":3: theta0.source: file needs a non-empty theta0.file at grid point 1 in [grid.a]",
         NULL},
        {"[theta0]\nsource = file\nfile = /x.h5\n[grid.a]\ntheta0.file =\n",
         FILE_NAME ":5: theta0.source: file needs a non-empty theta0.file at grid point 0 in [grid.a]",
         NULL},
        {"[run]\nraw_samples = 100\n[grid.a]\nrun.samples = 500, 50\n",
         FILE_NAME ":4: run.raw_samples: 100 exceeds run.samples = 50",
         "at grid point 1 in [grid.a] (run.samples=50)"},
        {"[grid.a]\nrun.samples = 100\n",
         FILE_NAME ":2: run.raw_samples: 1000 exceeds run.samples = 100 at grid point 0 in [grid.a]",
         NULL},
        {"[run]\nsteps = 100\neval_every = 10\n[grid.a]\nrun.steps = 5\n",
         FILE_NAME ":5: run.eval_every: 10 exceeds run.steps = 5", "in [grid.a]"},
        /* the point limit: per sub-grid, and in total */
        {"[estimator]\ntau = linspace(1, 1000, 1000)\n[grid.a]\nestimator.eta = linspace(0.1, 1, 1001)\n",
         FILE_NAME ":4: estimator.eta: the grid would have more than 1000000 points", NULL},
        {"[estimator]\ntau = linspace(1, 1000, 1000)\n[grid.a]\nrun.replicates = 1001\n",
         FILE_NAME ":2: estimator.tau: the grid would have more than 1000000 points in [grid.a]",
         NULL},
        {"[estimator]\ntau = linspace(1, 1000, 1000)\n[grid.a]\nestimator.eta = linspace(0.1, 1, 600)\n"
         "[grid.b]\nestimator.eta = linspace(0.1, 1, 401)\n",
         FILE_NAME ":5: grid.b: the sub-grids would have more than 1000000 points in total",
         "(600000 before [grid.b], 401000 in it)"},
        {"[run]\nreplicates = 600000\n[grid.a]\n[grid.b]\n",
         FILE_NAME ":4: grid.b: the sub-grids would have more than 1000000 points in total", NULL},
        /* the first error in the file wins */
        {"[grid.a]\nestimator.b = 2\n[grid.a]\n", FILE_NAME ":2: estimator.b", NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; ++i)
        expect_error(cases[i].text, cases[i].needle1, cases[i].needle2);

    /* Overrides cannot address a sub-grid. */
    const char *ov[] = {"grid.a.estimator.b=0.5"};
    expect_error_ov("[grid.a]\n", 1, ov, "--set grid.a.estimator.b=0.5: unknown key", NULL);
}

/* Errors -------------------------------------------------------------------*/

static void test_errors(void)
{
    static char long_path[FLEXCL_PATH_MAX + 64];
    memset(long_path, 0, sizeof long_path);
    strcpy(long_path, "[data]\nimages = /");
    memset(long_path + strlen(long_path), 'x', FLEXCL_PATH_MAX);

    const struct {
        const char *text;
        const char *needle1, *needle2;
    } cases[] = {
        /* sections, keys, INI syntax */
        {"[foo]\nx = 1\n", FILE_NAME ":1: unknown section [foo]", NULL},
        {"[run]\nseed = 1\n\n[Run]\n", FILE_NAME ":4: unknown section [Run]", NULL},
        {"[model]\nfoo = 1\n", FILE_NAME ":2: unknown key model.foo", NULL},
        {"seed = 1\n[run]\n", FILE_NAME ":1: key seed is outside any section", NULL},
        {"[run]\nseed = 1\nsteps = 10\nseed = 2\n",
         FILE_NAME ":4: run.seed: duplicated key", "(first set at line 2)"},
        {"[run]\nseed 1\n", FILE_NAME ":2: INI syntax error", NULL},
        {"[run\nseed = 1\n", FILE_NAME ":1: INI syntax error", NULL},
        {"[run] seed = 1\n", FILE_NAME ":1: unexpected text after [run]", NULL},
        {"[data]\nthreshold = 0.5\n  continued\n", FILE_NAME ":3: INI syntax error", NULL},
        {"[run]\n= 5\n", FILE_NAME ":2: missing key name", NULL},
        /* types */
        {"[estimator]\neta = abc\n",
         FILE_NAME ":2: estimator.eta: 'abc' is not a real number", NULL},
        {"[estimator]\neta = inf\n", FILE_NAME ":2: estimator.eta: 'inf'", "real"},
        {"[estimator]\neta = nan\n", FILE_NAME ":2: estimator.eta: 'nan'", "real"},
        {"[estimator]\neta = 1e999\n", FILE_NAME ":2: estimator.eta", "real"},
        {"[estimator]\neta = 0.1 # comment without space#\n\n[x]\n",
         FILE_NAME ":4: unknown section [x]", NULL},
        {"[run]\nsteps = 12x\n", FILE_NAME ":2: run.steps: '12x' is not a non-negative integer", NULL},
        {"[run]\nseed = -1\n", FILE_NAME ":2: run.seed: '-1' is not a non-negative integer", NULL},
        {"[run]\nseed = 18446744073709551616\n", FILE_NAME ":2: run.seed", "too large"},
        {"[model]\nn_hidden = 3.5\n", FILE_NAME ":2: model.n_hidden: '3.5' is not an integer", NULL},
        {"[model]\nn_hidden = 99999999999999999999999\n",
         FILE_NAME ":2: model.n_hidden: 99999999999999999999999 is outside [1, 100000]", NULL},
        {"[run]\nsame_init = maybe\n", FILE_NAME ":2: run.same_init: 'maybe' is not a boolean", NULL},
        {"[estimator]\nkind = ISD\n",
         FILE_NAME ":2: estimator.kind: 'ISD' is not one of two_term|isd|aol", NULL},
        {"[model]\nkind = nosuch\n", FILE_NAME ":2: model.kind: 'nosuch' is not a registered model", "rbm"},
        {long_path, FILE_NAME ":2: data.images", "at most 4095"},
        /* ranges */
        {"[estimator]\nb = 1.5\n", FILE_NAME ":2: estimator.b: 1.5 is outside (0, 1)", NULL},
        {"[estimator]\nb = 0\n", FILE_NAME ":2: estimator.b: 0 is outside (0, 1)", NULL},
        {"[estimator]\neta = 0\n", FILE_NAME ":2: estimator.eta: 0 is outside (0, inf)", NULL},
        {"[estimator]\ntau = 0.5\n", FILE_NAME ":2: estimator.tau: 0.5 is outside [1, inf)", NULL},
        {"[run]\nthreads = 2000\n", FILE_NAME ":2: run.threads: 2000 is outside [0, 1024]", NULL},
        {"[run]\nsteps = 0\n", FILE_NAME ":2: run.steps: 0 is outside [1, inf)", NULL},
        {"[data]\nthreshold = 1\n", FILE_NAME ":2: data.threshold: 1 is outside [-1, 1)", NULL},
        {"[data]\nbas_n = 2, 13\n", FILE_NAME ":2: data.bas_n: 13 is outside [2, 12]", NULL},
        {"[optim]\nbeta2 = 1\n", FILE_NAME ":2: optim.beta2: 1 is outside [0, 1)", NULL},
        /* empty values */
        {"[estimator]\neta =\n", FILE_NAME ":2: estimator.eta: empty value", NULL},
        {"[model]\nkind = ; comment only\n", FILE_NAME ":2: model.kind: empty value", NULL},
        /* lists */
        {"[estimator]\ntau = 1, , 3\n", FILE_NAME ":2: estimator.tau: empty element 2", NULL},
        {"[estimator]\ntau = 1, 3,\n", FILE_NAME ":2: estimator.tau: empty element 3", NULL},
        {"[estimator]\ntau = linspace(1, 10, 0)\n", FILE_NAME ":2: estimator.tau", "outside [1, 1000000]"},
        {"[estimator]\ntau = linspace(1, 10, 1000001)\n", FILE_NAME ":2: estimator.tau", "outside [1, 1000000]"},
        {"[estimator]\ntau = linspace(1, 10, 2.5)\n", FILE_NAME ":2: estimator.tau", "not an integer"},
        {"[estimator]\ntau = logspace(0, 10, 3)\n", FILE_NAME ":2: estimator.tau: logspace needs a > 0", NULL},
        {"[estimator]\neta = logspace(0.1, -1, 3)\n", FILE_NAME ":2: estimator.eta: logspace needs a > 0", NULL},
        {"[estimator]\ntau = linspace(1, 10)\n", FILE_NAME ":2: estimator.tau", "three arguments"},
        {"[estimator]\ntau = linspace(1, 10, 3, 4)\n", FILE_NAME ":2: estimator.tau", "three arguments"},
        {"[estimator]\ntau = linspace(1, 10, 3\n", FILE_NAME ":2: estimator.tau", "linspace(a, b, n)"},
        {"[estimator]\ntau = linspace(x, 10, 3)\n", FILE_NAME ":2: estimator.tau", "'x' is not a real number"},
        {"[estimator]\ntau = linspace(0, 10, 3)\n", FILE_NAME ":2: estimator.tau: 0 is outside [1, inf)", NULL},
        {"[model]\nn_hidden = linspace(1, 10, 3)\n", FILE_NAME ":2: model.n_hidden", "5.5, which is not an integer"},
        {"[estimator]\nkind = linspace(1, 2, 3)\n", FILE_NAME ":2: estimator.kind", "numeric key"},
        {"[estimator]\nkind = isd, cd\n", FILE_NAME ":2: estimator.kind: 'cd' is not one of", NULL},
        {"[run]\nsteps = 10, 20\n", FILE_NAME ":2: run.steps: takes a single value", NULL},
        {"[run]\nreplicates = linspace(1, 2, 2)\n", FILE_NAME ":2: run.replicates: takes a single value", NULL},
        {"[estimator]\ntau = linspace(1, 2, 1000)\n\neta = linspace(0.1, 1, 1001)\n",
         FILE_NAME ":4: estimator.eta: the grid would have more than 1000000 points", NULL},
        {"[estimator]\ntau = 1, 2\n[run]\nreplicates = 500001\n",
         FILE_NAME ":2: estimator.tau: the grid would have more than 1000000 points", NULL},
        {"[run]\nreplicates = 1000001\n", FILE_NAME ":2: run.replicates", "1000000 points"},
        /* cross-key rules, at every grid point */
        {"[estimator]\nlaw = uniform\ntau = 10\nuniform_halfwidth = 10\n",
         FILE_NAME ":4: estimator.uniform_halfwidth: 10 is not below estimator.tau = 10", NULL},
        {"[estimator]\ntau = 20, 5, 30\nlaw = fixed, uniform\nuniform_halfwidth = 8\n",
         FILE_NAME ":4: estimator.uniform_halfwidth: 8 is not below estimator.tau = 5",
         "grid point 3 (estimator.tau=5, estimator.law=uniform)"},
        {"[data]\nlabels =\nlabel_block = 0, 1\n",
         FILE_NAME ":3: data.label_block: 1 needs a non-empty data.labels",
         "grid point 1 (data.label_block=1)"},
        {"[run]\nsteps = 100\neval_every = 200\n",
         FILE_NAME ":3: run.eval_every: 200 exceeds run.steps = 100", NULL},
        {"[run]\nsteps = 100\n", FILE_NAME ":2: run.eval_every: 20000 exceeds run.steps = 100", NULL},
        /* the first error in the file wins */
        {"[run]\nseed = x\nbad line\n", FILE_NAME ":2: run.seed", NULL},
        {"[run]\nbad line\nseed = x\n", FILE_NAME ":2: INI syntax error", NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; ++i)
        expect_error(cases[i].text, cases[i].needle1, cases[i].needle2);

    /* Bad arguments. */
    flexcl_job *job = NULL;
    CU_ASSERT_EQUAL(flexcl_job_create(NULL, FILE_NAME, 0, NULL, &job), FLEXCL_ERR_ARG);
    CU_ASSERT_EQUAL(flexcl_job_create("", FILE_NAME, 0, NULL, NULL), FLEXCL_ERR_ARG);
    CU_ASSERT_EQUAL(flexcl_job_create("", FILE_NAME, 1, NULL, &job), FLEXCL_ERR_ARG);
    CU_ASSERT_PTR_NULL(job);
}

/* The supervised learners' keys (ff, dp, dpt, backprop) --------------------*/

static void test_supervised_keys(void)
{
    const char *text = "[model]\nkind = dpt\nhidden = 512, 256,128\n"
                       "alpha = 0, 0.5, 1\nbeta = 0.01\nsweeps = 16\n"
                       "[run]\nepochs = 3\neval_rows = 500\n"
                       "[data]\ntest_images = /x/t10k-images\n";
    flexcl_job *job = create_ok(text, 0, NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(job);
    CU_ASSERT_EQUAL(flexcl_job_n_points(job), 3);
    CU_ASSERT_EQUAL(flexcl_job_n_axes(job), 1);
    CU_ASSERT_STRING_EQUAL(flexcl_job_axis_name(job, 0), "model.alpha");
    const double alphas[] = {0.0, 0.5, 1.0};
    for (size_t i = 0; i < 3; ++i) {
        flexcl_settings s = point(job, i);
        CU_ASSERT_EQUAL(s.supervised.alpha, alphas[i]);
        CU_ASSERT_EQUAL(s.model.beta, 0.01);
        CU_ASSERT_EQUAL(s.supervised.sweeps, 16);
        CU_ASSERT_EQUAL(s.supervised.epochs, 3);
        CU_ASSERT_EQUAL(s.model.eval_rows, 500);
        CU_ASSERT_STRING_EQUAL(s.model.hidden, "512, 256,128");
        CU_ASSERT_STRING_EQUAL(s.data.test_images, "/x/t10k-images");
        CU_ASSERT(strstr(s.data.test_labels, "t10k-labels") != NULL);
        CU_ASSERT_STRING_EQUAL(s.model.kind, "dpt");
        flexcl_supervised_kind k = FLEXCL_SUP_FF;
        CU_ASSERT(flexcl_supervised_kind_parse(s.model.kind, &k) && k == FLEXCL_SUP_DPT);
    }
    CU_ASSERT_STRING_EQUAL(flexcl_job_point_value(job, 2, 0), "1");
    flexcl_job_destroy(&job);
    /* ff with a threshold grid and an override of beta's list. */
    const char *ov[] = {"model.threshold=1, 2", "estimator.kind=two_term"};
    job = create_ok("[model]\nkind = ff\n", 2, ov);
    CU_ASSERT_PTR_NOT_NULL_FATAL(job);
    CU_ASSERT_EQUAL(flexcl_job_n_points(job), 2);
    CU_ASSERT_EQUAL(point(job, 1).supervised.threshold, 2.0);
    CU_ASSERT_STRING_EQUAL(point(job, 0).model.hidden, "auto");
    flexcl_job_destroy(&job);
    /* ff trains under aol: whole tau under fixed/uniform, any tau >= 1 under
     * geometric. */
    job = create_ok("[model]\nkind = ff\n[estimator]\ntau = 10\n[grid.a]\n"
                    "estimator.kind = two_term, isd, aol\n[grid.geo]\nestimator.kind = aol\n"
                    "estimator.law = geometric\nestimator.tau = 2.5\n",
                    0, NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(job);
    CU_ASSERT_EQUAL(flexcl_job_n_points(job), 4);
    CU_ASSERT_EQUAL(point(job, 2).estimator.kind, FLEXCL_EST_AOL);
    CU_ASSERT_EQUAL(point(job, 2).estimator.tau, 10.0);
    CU_ASSERT_EQUAL(point(job, 3).estimator.law, FLEXCL_LAW_GEOMETRIC);
    CU_ASSERT_EQUAL(point(job, 3).estimator.tau, 2.5);
    flexcl_job_destroy(&job);
    /* Defaults. */
    flexcl_settings d;
    flexcl_settings_default(&d);
    CU_ASSERT_EQUAL(d.supervised.threshold, 2.0);
    CU_ASSERT_EQUAL(d.supervised.sweeps, 8);
    CU_ASSERT_EQUAL(d.supervised.epochs, 2);
    /* The keys shared with the registry models: one field each, in the
     * model settings, with the documented defaults (docs/models.md). */
    CU_ASSERT_STRING_EQUAL(d.model.hidden, "auto");
    CU_ASSERT_EQUAL(d.model.beta, 0.01);
    CU_ASSERT_EQUAL(d.model.eval_rows, 10000);
    flexcl_model_settings md;
    flexcl_model_settings_default(&md);
    CU_ASSERT_STRING_EQUAL(md.hidden, d.model.hidden);
    CU_ASSERT_EQUAL(md.beta, d.model.beta);
    CU_ASSERT_EQUAL(md.eval_rows, d.model.eval_rows);
    /* The test set is a data key: one field each, in the data settings,
     * whose default is the job's; "" (no test set) is accepted. */
    flexcl_data_settings dd;
    flexcl_data_settings_default(&dd);
    CU_ASSERT_STRING_EQUAL(d.data.test_images, dd.test_images);
    CU_ASSERT_STRING_EQUAL(d.data.test_labels, dd.test_labels);
    CU_ASSERT(strstr(d.data.test_images, "t10k-images") != NULL);
    const char *no_test[] = {"data.test_images=", "data.test_labels="};
    job = create_ok("[model]\nkind = ff\n", 2, no_test);
    CU_ASSERT_PTR_NOT_NULL_FATAL(job);
    CU_ASSERT_STRING_EQUAL(point(job, 0).data.test_images, "");
    CU_ASSERT_STRING_EQUAL(point(job, 0).data.test_labels, "");
    flexcl_job_destroy(&job);
    /* Errors name the place. */
    const struct {
        const char *text, *msg;
    } bad[] = {
        {"[model]\nkind = dpt\nalpha = 1.5\n", FILE_NAME ":3: model.alpha: 1.5 is outside [0, 1]"},
        {"[model]\nbeta = 0\n", FILE_NAME ":2: model.beta: 0; the nudging strength must be non-zero"},
        {"[model]\nkind = dpt\nbeta = -1\n", FILE_NAME ":3: model.beta: -1; dual propagation needs beta > 0"},
        {"[model]\nsweeps = 0\n", FILE_NAME ":2: model.sweeps: 0 is outside [1, 10000]"},
        {"[model]\nhidden = 500,x\n", FILE_NAME ":2: model.hidden: '500,x' is not auto"},
        {"[model]\nhidden = 0\n", FILE_NAME ":2: model.hidden: '0' is not auto"},
        {"[run]\nepochs = 0\n", FILE_NAME ":2: run.epochs: 0 is outside [1, 1000000]"},
        {"[model]\nkind = ff\n[estimator]\nkind = aol\ntau = 2.5\n",
         FILE_NAME ":5: estimator.tau: 2.5; model.kind = ff under aol with estimator.law = "
                   "fixed needs a whole number of steps"},
        {"[model]\nkind = ff\n[estimator]\nkind = aol\nlaw = geometric\ntau = 1e16\n",
         FILE_NAME ":6: estimator.tau: 1e+16; model.kind = ff under aol with "
                   "estimator.law = geometric needs tau <= 1e15"},
        {"[model]\nkind = dp\nalpha = 0, 0.5\n",
         FILE_NAME ":3: model.alpha: 0; original dual propagation"},
        {"[model]\nkind = boltzmann\n",
         FILE_NAME ":2: model.kind: 'boltzmann' is not a registered model (registered: rbm"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; ++i) {
        flexcl_job *b = NULL;
        CU_ASSERT_EQUAL(flexcl_job_create(bad[i].text, FILE_NAME, 0, NULL, &b),
                        FLEXCL_ERR_JOB);
        CU_ASSERT_PTR_NULL(b);
        if (strncmp(flexcl_error_message(), bad[i].msg, strlen(bad[i].msg)) != 0)
            fprintf(stderr, "\nwant '%s'\n got '%s'\n", bad[i].msg,
                    flexcl_error_message());
        CU_ASSERT_EQUAL(strncmp(flexcl_error_message(), bad[i].msg, strlen(bad[i].msg)), 0);
    }
    /* The shipped job files of the feed-forward learners parse (the test
     * runs from the repository root). */
    const struct {
        const char *path;
        size_t points;
        const char *kind0;
    } files[] = {{"jobs/ff_fmnist.ini", 2, "ff"},
                 {"jobs/ff_isd_compare.ini", 3, "ff"},
                 {"jobs/ff_aol.ini", 4, "ff"},
                 {"jobs/dualprop_fmnist.ini", 5, "dpt"}};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; ++i) {
        char *t = NULL;
        flexcl_job *fj = NULL;
        CU_ASSERT_EQUAL_FATAL(flexcl_job_read(files[i].path, &t), FLEXCL_OK);
        CU_ASSERT_EQUAL(flexcl_job_create(t, files[i].path, 0, NULL, &fj), FLEXCL_OK);
        if (fj) {
            CU_ASSERT_EQUAL(flexcl_job_n_points(fj), files[i].points);
            CU_ASSERT_STRING_EQUAL(point(fj, 0).model.kind, files[i].kind0);
            flexcl_job_destroy(&fj);
        }
        free(t);
    }
    /* A list of a string key is not an axis: model.hidden keeps its commas. */
    job = create_ok("[model]\nhidden = 10,20\n", 0, NULL);
    CU_ASSERT_EQUAL(flexcl_job_n_points(job), 1);
    flexcl_job_destroy(&job);
}

/* The key table ------------------------------------------------------------*/

/* Index of "section.key" in the key table, or the key count. */
static size_t key_named(const char *name)
{
    for (size_t i = 0; i < flexcl_job_key_count(); ++i) {
        flexcl_job_key_info k = flexcl_job_key(i);
        char full[128];
        snprintf(full, sizeof full, "%s.%s", k.section, k.key);
        if (strcmp(full, name) == 0) return i;
    }
    return flexcl_job_key_count();
}

static void test_key_table(void)
{
    const char *expected[] = {
        "run.experiment",        "run.seed",           "run.streams",
        "run.steps",
        "run.eval_every",        "run.replicates",     "run.learners_per_rank",
        "run.average_every",     "run.averaging",      "run.average_exchange",
        "run.average_delay",
        "run.same_init",
        "run.threads",
        "run.samples",           "run.raw_samples",    "run.sample_compression",
        "run.chains",
        "run.sampler",           "run.max_points",     "run.epochs",
        "run.eval_rows",
        "data.source",           "data.bas_n",         "data.images",
        "data.labels",           "data.threshold",     "data.label_block",
        "data.n_classes",        "data.max_rows",      "data.test_images",
        "data.test_labels",      "model.kind",
        "model.n_hidden",        "model.visible_bias", "model.init_sigma",
        "model.hidden",          "model.threshold",    "model.alpha",
        "model.beta",            "model.epsilon",      "model.nudging",
        "model.eval_steps",      "model.sweeps",
        "estimator.kind",        "estimator.eta",      "estimator.b",
        "estimator.weights",     "estimator.tau",      "estimator.law",
        "estimator.uniform_halfwidth", "estimator.persistent",
        "estimator.batch",       "optim.kind",         "optim.beta1",
        "optim.beta2",           "optim.epsilon",      "theta0.source",
        "theta0.updates",        "theta0.eta",         "theta0.k",
        "theta0.file",           "theta0.point",       "theta0.learner",
        "tcl.kernel",            "tcl.tau_kernel",     "tcl.area",
        "tcl.threshold",         "tcl.dt",             "tcl.tau_fast",
        "tcl.tau_slow",          "tcl.relax",          "tcl.down",
        "tcl.s_free",            "tcl.amp_lo",         "tcl.amp_hi",
        "tcl.amplitudes",        "tcl.cycles",         "tcl.tolerance",
        "grid.zip",
    };
    const size_t n = sizeof expected / sizeof expected[0];
    CU_ASSERT_EQUAL_FATAL(flexcl_job_key_count(), n);
    flexcl_settings d;
    flexcl_settings_default(&d);
    for (size_t i = 0; i < n; ++i) {
        flexcl_job_key_info k = flexcl_job_key(i);
        char name[128], def[FLEXCL_PATH_MAX], text[2 * FLEXCL_PATH_MAX + 256];
        snprintf(name, sizeof name, "%s.%s", k.section, k.key);
        CU_ASSERT_STRING_EQUAL(name, expected[i]);
        CU_ASSERT_PTR_NOT_NULL(k.type);
        CU_ASSERT_PTR_NOT_NULL(k.unit);
        CU_ASSERT(k.help != NULL && strlen(k.help) > 10);
        int is_string = strcmp(k.type, "string") == 0 || strcmp(k.type, "path") == 0;
        CU_ASSERT(!is_string || !k.listable);
        flexcl_job_key_default(i, def, sizeof def);
        /* Only grid.zip (no zipped axes) and theta0.file (no file) default
         * to "". */
        CU_ASSERT((def[0] != '\0') == (strcmp(name, "grid.zip") != 0 &&
                                       strcmp(name, "theta0.file") != 0));
        /* The rendered default reads back as the default, from the file and
         * from --set. */
        snprintf(text, sizeof text, "[%s]\n%s = %s\n", k.section, k.key, def);
        flexcl_job *job = create_ok(text, 0, NULL);
        if (job) {
            flexcl_settings s = point(job, 0);
            CU_ASSERT_EQUAL(memcmp(&s, &d, sizeof s), 0);
            flexcl_job_destroy(&job);
        }
        snprintf(text, sizeof text, "%s=%s", name, def);
        const char *ov[] = {text};
        job = create_ok("", 1, ov);
        if (job) {
            flexcl_settings s = point(job, 0);
            CU_ASSERT_EQUAL(memcmp(&s, &d, sizeof s), 0);
            flexcl_job_destroy(&job);
        }
        /* ... and from a sub-grid, where it is written section.key. */
        if (strcmp(name, "run.max_points") == 0) continue; /* base only */
        snprintf(text, sizeof text, "[grid.one]\n%s = %s\n", name, def);
        job = create_ok(text, 0, NULL);
        if (job) {
            flexcl_settings s = point(job, 0);
            CU_ASSERT_EQUAL(memcmp(&s, &d, sizeof s), 0);
            CU_ASSERT_STRING_EQUAL(flexcl_job_key_location(job, name),
                                   FILE_NAME ":2");
            flexcl_job_destroy(&job);
        }
        /* A listable key takes a list of its default twice. */
        if (k.listable) {
            snprintf(text, sizeof text, "[%s]\n%s = %s, %s\n", k.section,
                     k.key, def, def);
            job = create_ok(text, 0, NULL);
            if (job) {
                CU_ASSERT_EQUAL(flexcl_job_n_points(job), 2);
                CU_ASSERT_STRING_EQUAL(flexcl_job_point_value(job, 1, 0), def);
                flexcl_job_destroy(&job);
            }
        }
    }
    /* Which keys may form axes, among the experiment keys. */
    const struct {
        const char *name;
        int listable;
    } lst[] = {
        {"run.experiment", 1}, {"run.samples", 1},     {"run.raw_samples", 0},
        {"run.chains", 0},     {"run.sampler", 1},     {"theta0.source", 0},
        {"theta0.updates", 0}, {"theta0.eta", 0},      {"theta0.k", 0},
        {"theta0.file", 0},    {"theta0.point", 0},    {"theta0.learner", 0},
    };
    for (size_t i = 0; i < sizeof lst / sizeof lst[0]; ++i) {
        size_t k = key_named(lst[i].name);
        CU_ASSERT_FATAL(k < n);
        if (flexcl_job_key(k).listable != lst[i].listable)
            fprintf(stderr, "\n%s: listable %d, want %d\n", lst[i].name,
                    flexcl_job_key(k).listable, lst[i].listable);
        CU_ASSERT_EQUAL(flexcl_job_key(k).listable, lst[i].listable);
    }
    /* Spot checks of the rendering and of the type texts. */
    const struct {
        const char *name, *def, *type;
    } spot[] = {
        {"estimator.eta", "0.005", "real"},
        {"estimator.kind", "isd", "two_term|isd|aol|tcl"},
        {"optim.epsilon", "1e-08", "real"},
        {"run.same_init", "1", "bool"},
        {"estimator.weights", "importance", "importance|unit|swapped"},
        {"estimator.law", "fixed", "fixed|geometric|uniform"},
        {"run.seed", "1", "uint"},
        {"data.images", NULL, "path"},
        {"model.kind", "rbm", "string"},
        {"run.experiment", "train", "train|isd_variance|aol_bias|tcl_synapse"},
        {"run.samples", "20000", "uint"},
        {"run.raw_samples", "1000", "uint"},
        {"run.chains", "64", "uint"},
        {"run.sampler", "exact", "exact|chain"},
        {"theta0.source", "train", "init|train|file"},
        {"theta0.updates", "2000", "uint"},
        {"theta0.eta", "0.05", "real"},
        {"theta0.k", "10", "int"},
        {"theta0.file", "", "path"},
        {"theta0.point", "0", "uint"},
        {"theta0.learner", "0", "uint"},
        {"tcl.kernel", "feedback", "feedback|fir_sine"},
        {"tcl.threshold", "0.05", "real"},
        {"tcl.tau_fast", "8", "real"},
        {"tcl.tau_slow", "72", "real"},
        {"tcl.relax", "4", "int"},
        {"tcl.down", "interpolate", "interpolate|run"},
        {"tcl.cycles", "3", "uint"},
    };
    char buf[64];
    for (size_t i = 0; i < sizeof spot / sizeof spot[0]; ++i) {
        size_t k = key_named(spot[i].name);
        CU_ASSERT_FATAL(k < n);
        CU_ASSERT_STRING_EQUAL(flexcl_job_key(k).type, spot[i].type);
        if (spot[i].def == NULL) continue;
        flexcl_job_key_default(k, buf, sizeof buf);
        CU_ASSERT_STRING_EQUAL(buf, spot[i].def);
    }
    CU_ASSERT_STRING_EQUAL(flexcl_job_key(key_named("estimator.tau")).unit, "steps");
    CU_ASSERT_PTR_NULL(flexcl_job_key(n).section);
    flexcl_job_key_default(n, buf, sizeof buf);
    CU_ASSERT_STRING_EQUAL(buf, "");
}

/* flexcl_job_load ----------------------------------------------------------*/

static char tmpdir[] = "/tmp/flexcl_test_job_XXXXXX";
static int have_tmpdir = 0;

static int write_file(const char *path, const char *bytes, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (f == NULL) return -1;
    int ok = fwrite(bytes, 1, n, f) == n;
    return (fclose(f) == 0 && ok) ? 0 : -1;
}

static void test_load(void)
{
    CU_ASSERT_FATAL(have_tmpdir);
    char path[256];
    snprintf(path, sizeof path, "%s/good.ini", tmpdir);
    const char *text = "[estimator]\nb = 0.25, 0.75 ; two points\n";
    CU_ASSERT_FATAL(write_file(path, text, strlen(text)) == 0);
    const char *ov[] = {"run.replicates=3"};
    flexcl_job *job = NULL;
    CU_ASSERT_EQUAL_FATAL(flexcl_job_load(MPI_COMM_WORLD, path, 1, ov, &job),
                          FLEXCL_OK);
    CU_ASSERT_STRING_EQUAL(flexcl_job_text(job), text);
    CU_ASSERT_STRING_EQUAL(flexcl_job_filename(job), path);
    CU_ASSERT_EQUAL(flexcl_job_n_points(job), 6);
    CU_ASSERT_EQUAL(point(job, 5).estimator.b, 0.75);
    flexcl_job_destroy(&job);

    /* Errors in the text name the file and line. */
    snprintf(path, sizeof path, "%s/bad.ini", tmpdir);
    text = "[run]\n\nsteps = many\n";
    CU_ASSERT_FATAL(write_file(path, text, strlen(text)) == 0);
    char want[300];
    snprintf(want, sizeof want, "%s:3: run.steps", path);
    CU_ASSERT_EQUAL(flexcl_job_load(MPI_COMM_SELF, path, 0, NULL, &job),
                    FLEXCL_ERR_JOB);
    CU_ASSERT_PTR_NOT_NULL(strstr(flexcl_error_message(), want));
    CU_ASSERT_PTR_NULL(job);

    /* A missing file. */
    snprintf(path, sizeof path, "%s/missing.ini", tmpdir);
    CU_ASSERT_EQUAL(flexcl_job_load(MPI_COMM_WORLD, path, 0, NULL, &job),
                    FLEXCL_ERR_JOB);
    snprintf(want, sizeof want, "%s: cannot read job file: No such file", path);
    CU_ASSERT_PTR_NOT_NULL(strstr(flexcl_error_message(), want));

    /* A directory. */
    CU_ASSERT_EQUAL(flexcl_job_load(MPI_COMM_WORLD, tmpdir, 0, NULL, &job),
                    FLEXCL_ERR_JOB);
    snprintf(want, sizeof want, "%s: cannot read job file", tmpdir);
    CU_ASSERT_PTR_NOT_NULL(strstr(flexcl_error_message(), want));

    /* A NUL byte. */
    snprintf(path, sizeof path, "%s/nul.ini", tmpdir);
    CU_ASSERT_FATAL(write_file(path, "[run]\0seed = 1\n", 15) == 0);
    CU_ASSERT_EQUAL(flexcl_job_load(MPI_COMM_WORLD, path, 0, NULL, &job),
                    FLEXCL_ERR_JOB);
    CU_ASSERT_PTR_NOT_NULL(strstr(flexcl_error_message(), path));
    CU_ASSERT_PTR_NOT_NULL(strstr(flexcl_error_message(), "NUL byte"));

    /* Larger than 1 MiB (comments only; exactly 1 MiB is fine). */
    snprintf(path, sizeof path, "%s/big.ini", tmpdir);
    size_t n = 1 << 20;
    char *big = malloc(n + 1);
    CU_ASSERT_PTR_NOT_NULL_FATAL(big);
    for (size_t i = 0; i < n + 1; ++i) big[i] = (i % 64 == 63) ? '\n' : ';';
    CU_ASSERT_FATAL(write_file(path, big, n) == 0);
    CU_ASSERT_EQUAL(flexcl_job_load(MPI_COMM_WORLD, path, 0, NULL, &job), FLEXCL_OK);
    CU_ASSERT_EQUAL(flexcl_job_n_points(job), 1);
    flexcl_job_destroy(&job);
    CU_ASSERT_FATAL(write_file(path, big, n + 1) == 0);
    free(big);
    CU_ASSERT_EQUAL(flexcl_job_load(MPI_COMM_WORLD, path, 0, NULL, &job),
                    FLEXCL_ERR_JOB);
    CU_ASSERT_PTR_NOT_NULL(strstr(flexcl_error_message(), path));
    CU_ASSERT_PTR_NOT_NULL(strstr(flexcl_error_message(), "1 MiB"));
    CU_ASSERT_PTR_NULL(job);
}

/* Suite --------------------------------------------------------------------*/

static int suite_init(void)
{
    have_tmpdir = mkdtemp(tmpdir) != NULL;
    return have_tmpdir ? 0 : 1;
}

static int suite_clean(void)
{
    if (!have_tmpdir) return 0;
    const char *names[] = {"good.ini", "bad.ini", "nul.ini", "big.ini"};
    char path[256];
    for (size_t i = 0; i < sizeof names / sizeof names[0]; ++i) {
        snprintf(path, sizeof path, "%s/%s", tmpdir, names[i]);
        unlink(path);
    }
    rmdir(tmpdir);
    return 0;
}

/* run.streams: point keys each point by its index; replicate keys it by its
 * replicate index, so points that differ only in parameters share streams. */
/* A model's needs (flexcl_model_ops.needs) are checked from its table, not
 * its name: the RBM's table registered again as "needy_rbm" with both bits
 * set is refused where the plain RBM (the twin) is accepted. */
static void test_model_needs(void)
{
    static flexcl_model_ops needy;
    needy = flexcl_rbm_ops;
    needy.name = "needy_rbm";
    needy.needs = FLEXCL_MODEL_NEEDS_LABELS | FLEXCL_MODEL_NEEDS_ROW_EVERY_PHASE;
    if (flexcl_model_lookup("needy_rbm") == NULL)
        CU_ASSERT_EQUAL_FATAL(flexcl_model_register(&needy), FLEXCL_OK);
    const char *labels = "[model]\nkind = %s\n";
    const char *pcd = "[data]\nsource = idx\nlabel_block = 1\n[model]\nkind = %s\n"
                      "[estimator]\nkind = two_term\npersistent = 1\n";
    const struct {
        const char *fmt, *msg;
    } cases[] = {
        {labels, FILE_NAME ":2: data.label_block: model.kind = needy_rbm needs the label block"},
        {pcd, FILE_NAME ":8: estimator.persistent: 1 runs the negative phase on a separate chain "
              "without the example's input, which model.kind = needy_rbm needs in both phases"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; ++i) {
        char text[256];
        flexcl_job *j = NULL;
        snprintf(text, sizeof text, cases[i].fmt, "needy_rbm");
        CU_ASSERT_EQUAL(flexcl_job_create(text, FILE_NAME, 0, NULL, &j), FLEXCL_ERR_JOB);
        CU_ASSERT_PTR_NULL(j);
        CU_ASSERT_EQUAL(strncmp(flexcl_error_message(), cases[i].msg, strlen(cases[i].msg)), 0);
        if (strncmp(flexcl_error_message(), cases[i].msg, strlen(cases[i].msg)) != 0)
            fprintf(stderr, "\n got '%s'\n", flexcl_error_message());
        flexcl_job_destroy(&j);
        snprintf(text, sizeof text, cases[i].fmt, "rbm"); /* the twin */
        CU_ASSERT_EQUAL(flexcl_job_create(text, FILE_NAME, 0, NULL, &j), FLEXCL_OK);
        flexcl_job_destroy(&j);
    }
    /* The library refuses the same: a model without label units. */
    flexcl_model_settings ms;
    flexcl_model_settings_default(&ms);
    snprintf(ms.kind, sizeof ms.kind, "%s", "needy_rbm");
    flexcl_stream init = flexcl_stream_make(1, 0, 0);
    flexcl_model *m = NULL;
    CU_ASSERT_EQUAL(flexcl_model_create(&ms, 16, 0, &init, &m), FLEXCL_ERR_ARG);
    CU_ASSERT(strstr(flexcl_error_message(), "model.kind = needy_rbm needs labelled rows") != NULL);
    CU_ASSERT_EQUAL(flexcl_model_create(&ms, 26, 10, &init, &m), FLEXCL_OK);
    flexcl_model_destroy(&m);
}

static void test_streams(void)
{
    const char *text = "[run]\nreplicates = 2\n[estimator]\nkind = isd\nb = 0.2, 0.4, 0.6\n";
    flexcl_job *job = create_ok(text, 0, NULL);
    if (job == NULL) return;
    CU_ASSERT_EQUAL(flexcl_job_n_points(job), 6);
    for (size_t i = 0; i < 6; ++i) CU_ASSERT_EQUAL(flexcl_job_stream_point(job, i), i);
    flexcl_job_destroy(&job);
    const char *ov[] = {"run.streams=replicate"};
    job = create_ok(text, 1, ov);
    if (job == NULL) return;
    for (size_t i = 0; i < 6; ++i) {
        CU_ASSERT_EQUAL(flexcl_job_stream_point(job, i), i % 2);
        CU_ASSERT_EQUAL(point(job, i).run.streams, FLEXCL_STREAMS_REPLICATE);
    }
    flexcl_job_destroy(&job);
}

int main(int argc, char **argv)
{
    if (MPI_Init(&argc, &argv) != MPI_SUCCESS) return 1;
    int failures = 1;
    if (CU_initialize_registry() != CUE_SUCCESS) goto finalize;
    CU_pSuite suite = CU_add_suite("job", suite_init, suite_clean);
    if (suite == NULL) goto cleanup;
    const struct {
        const char *name;
        CU_TestFunc fn;
    } tests[] = {
        {"defaults", test_defaults},
        {"streams", test_streams},
        {"types", test_types},
        {"lists", test_lists},
        {"grid_order", test_grid_order},
        {"point_values", test_point_values},
        {"zip", test_zip},
        {"overrides", test_overrides},
        {"experiment_keys", test_experiment_keys},
        {"subgrids", test_subgrids},
        {"subgrid_overrides", test_subgrid_overrides},
        {"subgrid_errors", test_subgrid_errors},
        {"errors", test_errors},
        {"key_table", test_key_table},
        {"supervised_keys", test_supervised_keys},
        {"model_needs", test_model_needs},
        {"load", test_load},
    };
    for (size_t i = 0; i < sizeof tests / sizeof tests[0]; ++i)
        if (CU_add_test(suite, tests[i].name, tests[i].fn) == NULL) goto cleanup;
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    failures = (int)CU_get_number_of_failures() +
               (int)CU_get_number_of_suites_failed();
cleanup:
    CU_cleanup_registry();
finalize:
    MPI_Finalize();
    return failures ? 1 : 0;
}
