/* Philox streams: pure functions of (key, step, purpose, unit), identical
 * whatever the OpenMP thread count, distinct per learner, and uniform. */
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "../test_util.h"
#include "flexcl/rng.h"

enum { N = 1 << 16 };

/* Fill out[step*64 + unit] for 1024 steps x 64 units in parallel. */
static void fill_parallel(const flexcl_stream *s, int threads, double *out)
{
#pragma omp parallel for num_threads(threads) schedule(dynamic, 3) default(none) shared(s, out)
    for (int step = 0; step < N / 64; ++step)
        flexcl_stream_uniform(s, (uint64_t)step, FLEXCL_RNG_HIDDEN, 0, 64, out + step * 64);
}

static void test_threads(void)
{
    flexcl_stream s = flexcl_stream_make(42, 3, 7);
    double *a = malloc(N * sizeof *a), *b = malloc(N * sizeof *b);
    fill_parallel(&s, 1, a);
    fill_parallel(&s, 2, b);
    CU_ASSERT_EQUAL(memcmp(a, b, N * sizeof *a), 0);
    free(a);
    free(b);
}

static void test_pure_function(void)
{
    flexcl_stream s = flexcl_stream_make(1, 0, 0);
    double block[10];
    flexcl_stream_uniform(&s, 5, FLEXCL_RNG_VISIBLE, 3, 10, block);
    for (int k = 0; k < 10; ++k)
        CU_ASSERT_EQUAL(block[k], flexcl_stream_uniform1(&s, 5, FLEXCL_RNG_VISIBLE, 3 + (uint64_t)k));
    /* Another purpose or step gives other numbers. */
    CU_ASSERT_NOT_EQUAL(block[0], flexcl_stream_uniform1(&s, 5, FLEXCL_RNG_HIDDEN, 3));
    CU_ASSERT_NOT_EQUAL(block[0], flexcl_stream_uniform1(&s, 6, FLEXCL_RNG_VISIBLE, 3));
}

static void test_distinct_learners(void)
{
    flexcl_stream s0 = flexcl_stream_make(9, 1, 0), s1 = flexcl_stream_make(9, 1, 1);
    flexcl_stream p1 = flexcl_stream_make(9, 2, 0), k1 = flexcl_stream_make(10, 1, 0);
    double a[64], b[64], c[64], d[64];
    flexcl_stream_uniform(&s0, 0, FLEXCL_RNG_HIDDEN, 0, 64, a);
    flexcl_stream_uniform(&s1, 0, FLEXCL_RNG_HIDDEN, 0, 64, b);
    flexcl_stream_uniform(&p1, 0, FLEXCL_RNG_HIDDEN, 0, 64, c);
    flexcl_stream_uniform(&k1, 0, FLEXCL_RNG_HIDDEN, 0, 64, d);
    int same_ab = 0, same_ac = 0, same_ad = 0;
    for (int k = 0; k < 64; ++k) {
        same_ab += a[k] == b[k];
        same_ac += a[k] == c[k];
        same_ad += a[k] == d[k];
    }
    CU_ASSERT_EQUAL(same_ab + same_ac + same_ad, 0);
}

/* Uniformity: chi-square over 64 bins of 2^16 draws, and the sample mean of
 * the normals. Thresholds at α = 1e-4 each: false-fail rate < 2e-4 (and the
 * seeds are fixed, so a pass is deterministic). */
static void test_uniformity(void)
{
    flexcl_stream s = flexcl_stream_make(2024, 0, 0);
    double *u = malloc(N * sizeof *u);
    flexcl_stream_uniform(&s, 0, FLEXCL_RNG_MODEL, 0, N, u);
    long bins[64] = {0};
    for (int k = 0; k < N; ++k) {
        CU_ASSERT_TRUE(u[k] > 0.0 && u[k] < 1.0);
        bins[(int)(u[k] * 64)]++;
    }
    double e = N / 64.0, chi = 0;
    for (int k = 0; k < 64; ++k) chi += (bins[k] - e) * (bins[k] - e) / e;
    CU_ASSERT_TRUE(chi < chi2_upper_quantile(63, 1e-4));
    flexcl_stream_normal(&s, 1, FLEXCL_RNG_MODEL, 0, N, u);
    double m = 0, v = 0;
    for (int k = 0; k < N; ++k) m += u[k];
    m /= N;
    for (int k = 0; k < N; ++k) v += (u[k] - m) * (u[k] - m);
    v /= N - 1;
    CU_ASSERT_TRUE(fabs(m) < normal_upper_quantile(5e-5) / sqrt((double)N));
    CU_ASSERT_TRUE(fabs(v - 1.0) < normal_upper_quantile(5e-5) * sqrt(2.0 / N));
    free(u);
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS) return 1;
    test_case cases[] = {{"same_with_1_and_2_threads", test_threads},
                         {"pure_function_of_counter", test_pure_function},
                         {"distinct_learners_points_seeds", test_distinct_learners},
                         {"uniformity", test_uniformity}};
    if (add_suite("rng", cases, sizeof cases / sizeof *cases)) return 1;
    return run_all() ? 1 : 0;
}
