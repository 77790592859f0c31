/* flexcl/log.h — the library's only voice: a logger callback.
 *
 * The library never prints. It reports progress and warnings through the
 * callback installed here; with none installed, messages are dropped.
 * The callback is process-wide; it is called only from the thread that
 * called into flexcl (never from inside an OpenMP region).
 */
#ifndef FLEXCL_LOG_H
#define FLEXCL_LOG_H

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    FLEXCL_LOG_ERROR = 0,
    FLEXCL_LOG_WARN = 1,
    FLEXCL_LOG_INFO = 2,
    FLEXCL_LOG_DEBUG = 3
} flexcl_log_level;

typedef void (*flexcl_log_fn)(flexcl_log_level level, const char *message,
                              void *user);

/* Install fn (NULL: drop everything) and the most verbose level passed on.
 * Not collective; call before any other flexcl function. */
void flexcl_log_set(flexcl_log_fn fn, void *user, flexcl_log_level max_level);

/* Send one printf-formatted line to the installed logger. Not collective. */
void flexcl_log(flexcl_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#ifdef __cplusplus
}
#endif
#endif /* FLEXCL_LOG_H */
