/* src/check.h — private error-propagation macros (PETSc PetscCall / HDF5
 * HGOTO_ERROR style). A function that owns resources declares
 *     flexcl_code err = FLEXCL_OK;
 * uses these macros, and ends with one `done:` label that releases
 * everything and returns err. */
#ifndef FLEXCL_CHECK_H
#define FLEXCL_CHECK_H

#include "flexcl/error.h"

/* Call a flexcl function; on failure add this frame to the trace and jump to done. */
#define FLEXCL_CALL(expr)                                                      \
    do {                                                                       \
        flexcl_code e_ = (expr);                                               \
        if (e_ != FLEXCL_OK) {                                                 \
            err = flexcl_error_push(e_, __FILE__, __LINE__, __func__);         \
            goto done;                                                         \
        }                                                                      \
    } while (0)

/* Record a new error and jump to done. */
#define FLEXCL_FAIL(code, ...)                                                 \
    do {                                                                       \
        err = flexcl_error_set((code), __FILE__, __LINE__, __func__,           \
                               __VA_ARGS__);                                   \
        goto done;                                                             \
    } while (0)

/* Fail with a message unless cond holds. */
#define FLEXCL_CHECK(cond, code, ...)                                          \
    do {                                                                       \
        if (!(cond)) FLEXCL_FAIL((code), __VA_ARGS__);                         \
    } while (0)

/* Allocation that fails cleanly. */
#define FLEXCL_ALLOC(ptr, count)                                               \
    do {                                                                       \
        size_t n_ = (size_t)(count);                                           \
        (ptr) = calloc(n_ ? n_ : 1, sizeof *(ptr));                            \
        FLEXCL_CHECK((ptr) != NULL, FLEXCL_ERR_NOMEM,                          \
                     "cannot allocate %zu elements for %s", n_, #ptr);         \
    } while (0)

/* Every MPI call is checked; the MPI error string goes into the message. */
#define FLEXCL_MPI(call)                                                       \
    do {                                                                       \
        int rc_ = (call);                                                      \
        if (rc_ != MPI_SUCCESS) {                                              \
            char s_[MPI_MAX_ERROR_STRING];                                     \
            int l_ = 0;                                                        \
            MPI_Error_string(rc_, s_, &l_);                                    \
            FLEXCL_FAIL(FLEXCL_ERR_MPI, "%s failed: %s", #call, s_);           \
        }                                                                      \
    } while (0)

/* Every HDF5 call is checked (negative return = failure). */
#define FLEXCL_H5(call, ...)                                                   \
    do {                                                                       \
        if ((long long)(call) < 0) FLEXCL_FAIL(FLEXCL_ERR_HDF5, __VA_ARGS__);  \
    } while (0)

#endif
