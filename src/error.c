/* Thread-local error record with a context trace. */
#include "flexcl/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { MESSAGE_MAX = 1024, TRACE_MAX = 4096 };

static _Thread_local flexcl_code last_code = FLEXCL_OK;
static _Thread_local char last_message[MESSAGE_MAX];
static _Thread_local char last_trace[TRACE_MAX];

const char *flexcl_strerror(flexcl_code code)
{
    switch (code) {
#define FLEXCL_X_MSG(name, value, msg)                                         \
    case name:                                                                 \
        return msg;
        FLEXCL_ERROR_LIST(FLEXCL_X_MSG)
#undef FLEXCL_X_MSG
    }
    return "unknown error code";
}

const char *flexcl_code_name(flexcl_code code)
{
    switch (code) {
#define FLEXCL_X_NAME(name, value, msg)                                        \
    case name:                                                                 \
        return #name;
        FLEXCL_ERROR_LIST(FLEXCL_X_NAME)
#undef FLEXCL_X_NAME
    }
    return "FLEXCL_ERR_UNKNOWN";
}

static void append_frame(const char *file, int line, const char *func)
{
    size_t used = strlen(last_trace);
    if (used + 2 >= TRACE_MAX) return;
    snprintf(last_trace + used, TRACE_MAX - used, "  at %s:%d: %s()\n", file,
             line, func);
}

flexcl_code flexcl_error_set(flexcl_code code, const char *file, int line,
                             const char *func, const char *fmt, ...)
{
    /* Format into a local buffer first: a caller may pass the previous
     * message (flexcl_error_message()) as an argument, and vsnprintf into
     * the buffer it reads from is undefined (it garbled such messages). */
    char msg[MESSAGE_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    memcpy(last_message, msg, sizeof msg);
    last_code = code;
    last_trace[0] = '\0';
    append_frame(file, line, func);
    return code;
}

flexcl_code flexcl_error_push(flexcl_code code, const char *file, int line,
                              const char *func)
{
    if (last_code == FLEXCL_OK) {
        /* An error that nobody described: say so rather than print nothing. */
        last_code = code;
        snprintf(last_message, sizeof last_message, "%s",
                 flexcl_strerror(code));
        last_trace[0] = '\0';
    }
    append_frame(file, line, func);
    return code;
}

flexcl_code flexcl_error_code(void) { return last_code; }
const char *flexcl_error_message(void) { return last_message; }
const char *flexcl_error_trace(void) { return last_trace; }

void flexcl_error_clear(void)
{
    last_code = FLEXCL_OK;
    last_message[0] = '\0';
    last_trace[0] = '\0';
}

void flexcl_error_format_real(double v, char *buf, size_t n)
{
    int p = 1;
    for (; p < 17; ++p) {
        snprintf(buf, n, "%.*g", p, v);
        if (strtod(buf, NULL) == v) break;
    }
    snprintf(buf, n, "%.*g", p, v);
    const char *e = strchr(buf, 'e');
    if (e == NULL) return;
    int exp10 = atoi(e + 1);
    if (exp10 >= 0 && exp10 < 7)
        snprintf(buf, n, "%.*f", p - 1 - exp10 > 0 ? p - 1 - exp10 : 0, v);
}
