/* Error codes, messages and the context trace. */
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

static void test_push_without_set(void)
{
    flexcl_error_clear();
    flexcl_error_push(FLEXCL_ERR_IO, "f.c", 3, "g");
    CU_ASSERT_EQUAL(flexcl_error_code(), FLEXCL_ERR_IO);
    CU_ASSERT_STRING_EQUAL(flexcl_error_message(), "input/output error");
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS) return 1;
    test_case cases[] = {{"messages", test_messages},
                         {"trace", test_trace},
                         {"push_without_set", test_push_without_set}};
    if (add_suite("error", cases, sizeof cases / sizeof *cases)) return 1;
    return run_all() ? 1 : 0;
}
