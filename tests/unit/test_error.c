/* Error codes, messages and the context trace. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/check.h"
#include "../test_util.h"
#include "flexcl/error.h"

static flexcl_code inner(int x)
{
    flexcl_code err = FLEXCL_OK;
    FLEXCL_CHECK(x > 0, FLEXCL_ERR_ARG, "x must be positive, got %d", x);
done:
    return err;
}

static flexcl_code outer(int x)
{
    flexcl_code err = FLEXCL_OK;
    FLEXCL_CALL(inner(x));
done:
    return err;
}

static void test_messages(void)
{
    CU_ASSERT_STRING_EQUAL(flexcl_strerror(FLEXCL_OK), "success");
    CU_ASSERT_STRING_EQUAL(flexcl_strerror(FLEXCL_ERR_JOB), "invalid job file");
    CU_ASSERT_STRING_EQUAL(flexcl_code_name(FLEXCL_ERR_HDF5), "FLEXCL_ERR_HDF5");
    CU_ASSERT_STRING_EQUAL(flexcl_strerror((flexcl_code)999), "unknown error code");
}

static void test_trace(void)
{
    flexcl_error_clear();
    CU_ASSERT_EQUAL(outer(1), FLEXCL_OK);
    CU_ASSERT_EQUAL(flexcl_error_code(), FLEXCL_OK);
    CU_ASSERT_EQUAL(outer(-3), FLEXCL_ERR_ARG);
    CU_ASSERT_EQUAL(flexcl_error_code(), FLEXCL_ERR_ARG);
    CU_ASSERT_STRING_EQUAL(flexcl_error_message(), "x must be positive, got -3");
    const char *t = flexcl_error_trace();
    const char *pi = strstr(t, "inner()"), *po = strstr(t, "outer()");
    CU_ASSERT_PTR_NOT_NULL(pi);
    CU_ASSERT_PTR_NOT_NULL(po);
    CU_ASSERT_TRUE(pi && po && pi < po); /* innermost frame first */
    CU_ASSERT_PTR_NOT_NULL(strstr(t, "test_error.c:"));
    flexcl_error_clear();
    CU_ASSERT_STRING_EQUAL(flexcl_error_message(), "");
}

/* A message that wraps the previous one (FLEXCL_CHECK(..., "what: %s",
 * flexcl_error_message())) keeps it whole. The twin is the message the
 * formatting into its own argument gave: the prefix twice and a torn tail. */
static void test_wrap_previous_message(void)
{
    flexcl_error_clear();
    CU_ASSERT_EQUAL(inner(-1), FLEXCL_ERR_ARG);
    flexcl_error_set(FLEXCL_ERR_UNSUPPORTED, "f.c", 7, "g", "outer needs more: %s",
                     flexcl_error_message());
    CU_ASSERT_STRING_EQUAL(flexcl_error_message(), "outer needs more: x must be positive, got -1");
    CU_ASSERT_PTR_NULL(strstr(flexcl_error_message() + 1, "outer needs more"));
    CU_ASSERT_EQUAL(flexcl_error_code(), FLEXCL_ERR_UNSUPPORTED);
    flexcl_error_clear();
}

static void test_push_without_set(void)
{
    flexcl_error_clear();
    flexcl_error_push(FLEXCL_ERR_IO, "f.c", 3, "g");
    CU_ASSERT_EQUAL(flexcl_error_code(), FLEXCL_ERR_IO);
    CU_ASSERT_STRING_EQUAL(flexcl_error_message(), "input/output error");
}

/* flexcl_error_format_real: documented examples, and every value of a sweep over
 * magnitudes reads back bitwise. The twin: "%g", the format it replaces,
 * loses digits that the user wrote (2.123456789 -> "2.12346"). */
static void test_format_real(void)
{
    static const struct { double v; const char *text; } ex[] = {
        {10, "10"},          {250000, "250000"}, {0.001, "0.001"},    {1e-8, "1e-08"},
        {1e20, "1e+20"},     {0.5, "0.5"},       {2.123456789, "2.123456789"},
        {-3.25, "-3.25"},    {1e15, "1e+15"},    {1234567, "1234567"}, {0.1, "0.1"}};
    char buf[32], g[32];
    for (size_t i = 0; i < sizeof ex / sizeof ex[0]; ++i) {
        flexcl_error_format_real(ex[i].v, buf, sizeof buf);
        CU_ASSERT_STRING_EQUAL(buf, ex[i].text);
    }
    long bad = 0, n = 0;
    for (int e = -300; e <= 300; e += 7)
        for (int m = 1; m < 1000; m += 37) {
            double v = (m / 7.0) * pow(10.0, e);
            flexcl_error_format_real(v, buf, sizeof buf);
            bad += strtod(buf, NULL) != v;
            flexcl_error_format_real(-v, buf, sizeof buf);
            bad += strtod(buf, NULL) != -v;
            n += 2;
        }
    CU_ASSERT_EQUAL(bad, 0);
    CU_ASSERT_TRUE(n > 2000);
    snprintf(g, sizeof g, "%g", 2.123456789);
    CU_ASSERT_TRUE(strtod(g, NULL) != 2.123456789); /* the twin loses the value */
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS) return 1;
    test_case cases[] = {{"messages", test_messages},
                         {"trace", test_trace},
                         {"wrap_previous_message", test_wrap_previous_message},
                         {"push_without_set", test_push_without_set},
                         {"format_real", test_format_real}};
    if (add_suite("error", cases, sizeof cases / sizeof *cases)) return 1;
    return run_all() ? 1 : 0;
}
