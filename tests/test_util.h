/* Shared helpers of flexcl's CUnit programs: run the registered suites with
 * the basic interface and turn failures into the exit status. */
#ifndef FLEXCL_TEST_UTIL_H
#define FLEXCL_TEST_UTIL_H

#include <CUnit/Basic.h>
#include <math.h>
#include <stdio.h>

typedef struct {
    const char *name;
    void (*fn)(void);
} test_case;

/* Register one suite of cases; returns 0 on success. */
static inline int add_suite(const char *name, const test_case *cases, size_t n)
{
    CU_pSuite s = CU_add_suite(name, NULL, NULL);
    if (!s) return 1;
    for (size_t i = 0; i < n; ++i)
        if (!CU_add_test(s, cases[i].name, cases[i].fn)) return 1;
    return 0;
}

/* Run everything registered; the number of failed assertions (+ failed
 * set-up) is returned, so 0 means all passed. */
static inline int run_all(void)
{
    if (CU_basic_get_mode() == CU_BRM_NORMAL) CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    int failures = (int)CU_get_number_of_failures() + (int)CU_get_number_of_tests_failed();
    int ran = (int)CU_get_number_of_tests_run();
    CU_cleanup_registry();
    if (ran == 0) {
        fprintf(stderr, "no test ran\n");
        return 1;
    }
    return failures;
}

/* Upper quantile of the standard normal: z with P(Z > z) = p (Acklam's
 * rational approximation, relative error < 1.2e-9). */
static inline double normal_upper_quantile(double p)
{
    static const double a[] = {-3.969683028665376e+01, 2.209460984245205e+02,
                               -2.759285104469687e+02, 1.383577518672690e+02,
                               -3.066479806614716e+01, 2.506628277459239e+00};
    static const double b[] = {-5.447609879822406e+01, 1.615858368580409e+02,
                               -1.556989798598866e+02, 6.680131188771972e+01,
                               -1.328068155288572e+01};
    static const double c[] = {-7.784894002430293e-03, -3.223964580411365e-01,
                               -2.400758277161838e+00, -2.549732539343734e+00,
                               4.374664141464968e+00, 2.938163982698783e+00};
    static const double d[] = {7.784695709041462e-03, 3.224671290700398e-01,
                               2.445134137142996e+00, 3.754408661907416e+00};
    double q = 1.0 - p, x; /* lower quantile of q */
    if (q < 0.02425) {
        double r = sqrt(-2 * log(q));
        x = (((((c[0] * r + c[1]) * r + c[2]) * r + c[3]) * r + c[4]) * r + c[5]) /
            ((((d[0] * r + d[1]) * r + d[2]) * r + d[3]) * r + 1);
    } else if (q <= 1 - 0.02425) {
        double r = q - 0.5, t = r * r;
        x = (((((a[0] * t + a[1]) * t + a[2]) * t + a[3]) * t + a[4]) * t + a[5]) * r /
            (((((b[0] * t + b[1]) * t + b[2]) * t + b[3]) * t + b[4]) * t + 1);
    } else {
        double r = sqrt(-2 * log(1 - q));
        x = -(((((c[0] * r + c[1]) * r + c[2]) * r + c[3]) * r + c[4]) * r + c[5]) /
            ((((d[0] * r + d[1]) * r + d[2]) * r + d[3]) * r + 1);
    }
    return x;
}

/* Upper α quantile of χ²_ν (Wilson–Hilferty; accurate to ~1% for ν ≥ 3). */
static inline double chi2_upper_quantile(double nu, double alpha)
{
    double z = normal_upper_quantile(alpha);
    double k = 2.0 / (9.0 * nu);
    double t = 1.0 - k + z * sqrt(k);
    return nu * t * t * t;
}

#endif
