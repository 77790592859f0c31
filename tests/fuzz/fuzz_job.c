/* libFuzzer harness: job text -> flexcl_job_create (parser, overrides, grid
 * expansion and validation) -> every public accessor of the job.
 *
 * Input: the job text, optionally followed by NUL-separated --set
 * overrides ("text\0run.seed=2\0estimator.b=0.1, 0.2"). The harness adds
 * "run.max_points=20000" last, so that a grid of a million cheap points
 * does not turn into a timeout; the limit itself is tested by unit tests.
 *
 * Invariants checked (a violation traps, which libFuzzer reports):
 *   - success or FLEXCL_ERR_JOB (NOMEM only if malloc fails), never
 *     another code;
 *   - an error leaves *out NULL and a non-empty message of one line;
 *   - a job's points, axes and locations are all readable. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flexcl/error.h"
#include "flexcl/job.h"

enum { MAX_OVERRIDES = 8, MAX_POINTS_VISITED = 64 };

static void check(int ok)
{
    if (!ok) __builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *buf = malloc(size + 1);
    if (buf == NULL) return 0;
    memcpy(buf, data, size);
    buf[size] = '\0';
    /* Split at NUL bytes: text, then overrides. */
    const char *ov[MAX_OVERRIDES + 1];
    size_t n_ov = 0;
    for (size_t i = strlen(buf); i < size && n_ov < MAX_OVERRIDES; i += strlen(buf + i)) {
        ++i; /* past the NUL */
        if (i > size) break;
        ov[n_ov++] = buf + i;
    }
    ov[n_ov++] = "run.max_points=20000";

    flexcl_job *job = NULL;
    flexcl_code rc = flexcl_job_create(buf, "fuzz.ini", n_ov, ov, &job);
    if (rc != FLEXCL_OK) {
        const char *msg = flexcl_error_message();
        if (getenv("FLEXCL_FUZZ_VERBOSE")) fprintf(stderr, "%s\n", msg);
        check(job == NULL);
        check(rc == FLEXCL_ERR_JOB || rc == FLEXCL_ERR_NOMEM);
        check(msg[0] != '\0' && strchr(msg, '\n') == NULL);
        free(buf);
        return 0;
    }
    const size_t n = flexcl_job_n_points(job), axes = flexcl_job_n_axes(job);
    check(n >= 1);
    check(flexcl_job_text(job) != NULL && flexcl_job_filename(job) != NULL);
    for (size_t a = 0; a < axes; ++a) {
        check(flexcl_job_axis_name(job, a) != NULL);
        check(flexcl_job_axis_length(job, a) >= 1);
    }
    /* The first and last points and a spread in between. */
    const size_t step = n > MAX_POINTS_VISITED ? n / MAX_POINTS_VISITED : 1;
    for (size_t i = 0; i < n; i += step) {
        for (int pass = 0; pass < 2; ++pass) {
            const size_t p = pass ? n - 1 - i : i;
            flexcl_settings s;
            check(flexcl_job_point(job, p, &s) == FLEXCL_OK);
            check(memchr(s.data.images, '\0', sizeof s.data.images) != NULL);
            check(memchr(s.theta0.file, '\0', sizeof s.theta0.file) != NULL);
            for (size_t a = 0; a < axes; ++a) check(flexcl_job_point_value(job, p, a) != NULL);
            check(flexcl_job_point_replicate(job, p) >= 0);
            check(flexcl_job_point_subgrid(job, p) != NULL);
            check(flexcl_job_point_key_location(job, p, "estimator.b") != NULL);
        }
    }
    check(flexcl_job_point_value(job, n, 0) == NULL);
    for (size_t k = 0; k < flexcl_job_key_count(); ++k) {
        flexcl_job_key_info info = flexcl_job_key(k);
        char name[128];
        snprintf(name, sizeof name, "%s.%s", info.section, info.key);
        check(flexcl_job_key_location(job, name) != NULL);
    }
    flexcl_job_destroy(&job);
    check(job == NULL);
    free(buf);
    return 0;
}
