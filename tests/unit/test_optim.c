/* SGD and Adam: exact first steps and the learnable mask. */
#include "../test_util.h"
#include <omp.h>
#include <stdlib.h>

#include "flexcl/optim.h"

/* flexcl_optim_zero clears exactly the optimiser's n entries, serially and
 * split over 1, 2 and 3 threads (n not a multiple of the cache-line cut),
 * and nothing past them. */
static void test_zero(void)
{
    const size_t sizes[] = {5, (1u << 17) + 13};
    for (size_t s = 0; s < 2; ++s) {
        size_t n = sizes[s];
        flexcl_optim_settings os;
        flexcl_optim_settings_default(&os);
        flexcl_optim *o = NULL;
        CU_ASSERT_EQUAL_FATAL(flexcl_optim_create(&os, n, NULL, &o), FLEXCL_OK);
        double *g = malloc((n + 1) * sizeof *g);
        CU_ASSERT_PTR_NOT_NULL_FATAL(g);
        for (int threads = 1; threads <= 3; ++threads) {
            omp_set_num_threads(threads);
            for (size_t k = 0; k <= n; ++k) g[k] = 1.0 + (double)k;
            flexcl_optim_zero(o, g);
            size_t nonzero = 0;
            for (size_t k = 0; k < n; ++k) nonzero += g[k] != 0.0;
            CU_ASSERT_EQUAL(nonzero, 0);
            CU_ASSERT_EQUAL(g[n], 1.0 + (double)n); /* the twin: past the end, untouched */
        }
        free(g);
        flexcl_optim_destroy(&o);
    }
}

static void test_sgd(void)
{
    flexcl_optim_settings s;
    flexcl_optim_settings_default(&s);
    CU_ASSERT_EQUAL(s.kind, FLEXCL_OPTIM_SGD);
    unsigned char mask[3] = {1, 0, 1};
    flexcl_optim *o = NULL;
    CU_ASSERT_EQUAL_FATAL(flexcl_optim_create(&s, 3, mask, &o), FLEXCL_OK);
    double th[3] = {1, 2, 3}, g[3] = {0.5, 10, -2};
    flexcl_optim_apply(o, th, g, 0.1);
    CU_ASSERT_DOUBLE_EQUAL(th[0], 1.05, 1e-15);
    CU_ASSERT_EQUAL(th[1], 2.0); /* masked: never moves */
    CU_ASSERT_DOUBLE_EQUAL(th[2], 2.8, 1e-15);
    CU_ASSERT_EQUAL(flexcl_optim_count(o), 1);
    flexcl_optim_destroy(&o);
    CU_ASSERT_PTR_NULL(o);
    flexcl_optim_destroy(&o); /* NULL-safe */
}

static void test_adam(void)
{
    flexcl_optim_settings s;
    flexcl_optim_settings_default(&s);
    s.kind = FLEXCL_OPTIM_ADAM;
    flexcl_optim *o = NULL;
    CU_ASSERT_EQUAL_FATAL(flexcl_optim_create(&s, 2, NULL, &o), FLEXCL_OK);
    double th[2] = {0, 0}, g[2] = {3.0, -0.25};
    /* First Adam step: m̂ = g, v̂ = g², so the step is lr·g/(|g|+ε) ≈ ±lr. */
    flexcl_optim_apply(o, th, g, 0.01);
    CU_ASSERT_DOUBLE_EQUAL(th[0], 0.01 * 3.0 / (3.0 + 1e-8), 1e-15);
    CU_ASSERT_DOUBLE_EQUAL(th[1], -0.01 * 0.25 / (0.25 + 1e-8), 1e-15);
    /* Second step with the same gradient: still ±lr (constant gradient). */
    flexcl_optim_apply(o, th, g, 0.01);
    CU_ASSERT_DOUBLE_EQUAL(th[0], 0.02, 1e-9);
    flexcl_optim_destroy(&o);
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS) return 1;
    test_case cases[] = {{"sgd_and_mask", test_sgd},
                         {"adam_first_steps", test_adam},
                         {"zero_whole_buffer", test_zero}};
    if (add_suite("optim", cases, sizeof cases / sizeof *cases)) return 1;
    return run_all() ? 1 : 0;
}
