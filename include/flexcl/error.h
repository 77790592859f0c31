/* flexcl/error.h — error codes, messages and the context trace.
 *
 * Every fallible flexcl function returns a flexcl_code. On failure the
 * function that detected the problem records a one-line message with
 * flexcl_error_set(); every caller that passes the error up adds its
 * file:line:function to a trace (the FLEXCL_CALL macro in src/ does this).
 * The record is thread-local, so OpenMP threads never clobber each other.
 * The library never prints: the driver decides what to show.
 */
#ifndef FLEXCL_ERROR_H
#define FLEXCL_ERROR_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* One list, one enum, one table of messages (SUNDIALS-style X-macro). */
#define FLEXCL_ERROR_LIST(X)                                                   \
    X(FLEXCL_OK, 0, "success")                                                 \
    X(FLEXCL_ERR_NOMEM, 1, "out of memory")                                    \
    X(FLEXCL_ERR_ARG, 2, "invalid argument")                                   \
    X(FLEXCL_ERR_JOB, 3, "invalid job file")                                   \
    X(FLEXCL_ERR_DATA, 4, "invalid data file")                                 \
    X(FLEXCL_ERR_IO, 5, "input/output error")                                  \
    X(FLEXCL_ERR_HDF5, 6, "HDF5 error")                                        \
    X(FLEXCL_ERR_MPI, 7, "MPI error")                                          \
    X(FLEXCL_ERR_UNSUPPORTED, 8, "operation not supported by this model")      \
    X(FLEXCL_ERR_NUMERIC, 9, "numerical failure")                              \
    X(FLEXCL_ERR_INTERNAL, 10, "internal error")                              \
    X(FLEXCL_ERR_INTERRUPTED, 11, "interrupted; completed work is kept for a rerun") \
    X(FLEXCL_ERR_NOSPACE, 12, "no space left for the output (disk full or quota)")

typedef enum {
#define FLEXCL_X_ENUM(name, value, msg) name = value,
    FLEXCL_ERROR_LIST(FLEXCL_X_ENUM)
#undef FLEXCL_X_ENUM
} flexcl_code;

/* The fixed message of a code ("invalid job file"). Never NULL. Not collective. */
const char *flexcl_strerror(flexcl_code code);

/* The symbolic name of a code ("FLEXCL_ERR_JOB"). Never NULL. Not collective. */
const char *flexcl_code_name(flexcl_code code);

/* Record a new error on this thread: replaces any earlier record and starts
 * a fresh trace at (file, line, func). Returns code so that one can write
 * `return flexcl_error_set(...)`. The message is printf-formatted and is
 * truncated at 1023 bytes. Not collective. */
flexcl_code flexcl_error_set(flexcl_code code, const char *file, int line,
                             const char *func, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* Append one frame (file:line:func) to this thread's trace; used as an error
 * travels up. Returns code unchanged. Not collective. */
flexcl_code flexcl_error_push(flexcl_code code, const char *file, int line,
                              const char *func);

/* This thread's last error: code, one-line message and the multi-line trace
 * (innermost frame first). The strings stay valid until the next
 * flexcl_error_set/clear on this thread. Not collective. */
flexcl_code flexcl_error_code(void);
const char *flexcl_error_message(void);
const char *flexcl_error_trace(void);
void flexcl_error_clear(void);

/* A real in an error message: the shortest text that reads back as exactly
 * v, in "%g" style but without an exponent for 1 <= |v| < 1e7 ("10",
 * "250000", "2.123456789", "1e-08", "1e+20"), so a message shows the value
 * the user wrote. buf of n bytes (32 holds any double). Not collective. */
void flexcl_error_format_real(double v, char *buf, size_t n);

#ifdef __cplusplus
}
#endif
#endif /* FLEXCL_ERROR_H */
