/* Process-wide logger callback; the library's only output channel. */
#include "flexcl/log.h"

#include <stdarg.h>
#include <stdio.h>

static flexcl_log_fn log_fn = NULL;
static void *log_user = NULL;
static flexcl_log_level log_max = FLEXCL_LOG_INFO;

void flexcl_log_set(flexcl_log_fn fn, void *user, flexcl_log_level max_level)
{
    log_fn = fn;
    log_user = user;
    log_max = max_level;
}

void flexcl_log(flexcl_log_level level, const char *fmt, ...)
{
    if (!log_fn || level > log_max) return;
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    log_fn(level, line, log_user);
}
