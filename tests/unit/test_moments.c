/* Streaming moments: Welford against a two-pass computation, and Chan
 * merges of uneven blocks against the single pass over all samples. */
#include <stdlib.h>

#include "../test_util.h"
#include "flexcl/moments.h"
#include "flexcl/rng.h"

enum { N = 10007, D = 5 };

static double *samples(void)
{
    double *x = malloc(N * D * sizeof *x);
    flexcl_stream s = flexcl_stream_make(3, 0, 0);
    flexcl_stream_normal(&s, 0, FLEXCL_RNG_MODEL, 0, N * D, x);
    for (int n = 0; n < N; ++n)
        for (int k = 0; k < D; ++k) x[n * D + k] = 1e6 + (k + 1) * x[n * D + k]; /* large offset */
    return x;
}

static void test_welford_two_pass(void)
{
    double *x = samples();
    flexcl_moments m;
    CU_ASSERT_EQUAL_FATAL(flexcl_moments_init(&m, D), FLEXCL_OK);
    for (int n = 0; n < N; ++n) flexcl_moments_add(&m, x + n * D);
    CU_ASSERT_EQUAL(m.count, N);
    for (int k = 0; k < D; ++k) {
        double mean = 0, m2 = 0;
        for (int n = 0; n < N; ++n) mean += x[n * D + k];
        mean /= N;
        for (int n = 0; n < N; ++n) m2 += (x[n * D + k] - mean) * (x[n * D + k] - mean);
        CU_ASSERT_DOUBLE_EQUAL(m.mean[k], mean, 1e-12 * fabs(mean));
        CU_ASSERT_DOUBLE_EQUAL(m.m2[k], m2, 1e-9 * m2);
    }
    double tr = 0;
    for (int k = 0; k < D; ++k) tr += m.m2[k] / (N - 1);
    CU_ASSERT_DOUBLE_EQUAL(flexcl_moments_trace_cov(&m), tr, 1e-12 * tr);
    flexcl_moments_free(&m);
    free(x);
}

static void test_chan_merge(void)
{
    double *x = samples();
    flexcl_moments all, acc, part;
    flexcl_moments_init(&all, D);
    flexcl_moments_init(&acc, D);
    flexcl_moments_init(&part, D);
    for (int n = 0; n < N; ++n) flexcl_moments_add(&all, x + n * D);
    /* Uneven blocks, including an empty one. */
    int cuts[] = {0, 1, 1, 500, 4000, 9999, N};
    for (size_t c = 0; c + 1 < sizeof cuts / sizeof *cuts; ++c) {
        flexcl_moments_reset(&part);
        for (int n = cuts[c]; n < cuts[c + 1]; ++n) flexcl_moments_add(&part, x + n * D);
        flexcl_moments_merge(&acc, &part);
    }
    CU_ASSERT_EQUAL(acc.count, all.count);
    for (int k = 0; k < D; ++k) {
        CU_ASSERT_DOUBLE_EQUAL(acc.mean[k], all.mean[k], 1e-12 * fabs(all.mean[k]));
        CU_ASSERT_DOUBLE_EQUAL(acc.m2[k], all.m2[k], 1e-9 * all.m2[k]);
    }
    /* E‖x‖² from moments equals the direct mean of ‖x‖². */
    double direct = 0;
    for (int n = 0; n < N; ++n)
        for (int k = 0; k < D; ++k) direct += x[n * D + k] * x[n * D + k] / N;
    CU_ASSERT_DOUBLE_EQUAL(flexcl_moments_second_moment(&acc), direct, 1e-12 * direct);
    flexcl_moments_free(&all);
    flexcl_moments_free(&acc);
    flexcl_moments_free(&part);
    free(x);
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS) return 1;
    test_case cases[] = {{"welford_vs_two_pass", test_welford_two_pass},
                         {"chan_merge_vs_single_pass", test_chan_merge}};
    if (add_suite("moments", cases, sizeof cases / sizeof *cases)) return 1;
    return run_all() ? 1 : 0;
}
