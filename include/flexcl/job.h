/* flexcl/job.h — job files: INI text → a grid of fully validated settings.
 *
 * A job file is INI (parsed with inih) with the sections [run], [data],
 * [model], [estimator] and [optim]; every key is listed in a table (see
 * flexcl_job_key) with its type, default, unit and meaning. Unknown
 * sections or keys, duplicated keys, wrong types and out-of-range values are
 * errors whose message is one line "FILE:LINE: section.key: what is wrong"
 * (for a --set override: "--set section.key=value: ...").
 *
 * Grids. A numeric or enumerated value may be a list "0.1, 0.2, 0.5",
 * "linspace(a, b, n)" (n points, a and b included) or "logspace(a, b, n)"
 * (n points from a to b, geometric; a, b > 0). Every listed key is an axis;
 * axes are ordered by their first appearance in the file (overrides that
 * add a key append an axis). The grid point index is
 *     i = ((i_0 * n_1 + i_1) * n_2 + ... ) * replicates + r
 * (the last axis varies fastest, replicates fastest of all), a stable order
 * that does not depend on anything but the job text. String keys (paths,
 * model kind) never form lists.
 *
 * Zipped axes. "[grid] zip = section.a, section.b" makes listed keys of equal
 * length vary together: they share one index, placed where the first of them
 * appears (each is still reported as its own axis with its own values).
 */
#ifndef FLEXCL_JOB_H
#define FLEXCL_JOB_H

#include <stddef.h>
#include <stdint.h>

#include "flexcl/data.h"
#include "flexcl/error.h"
#include "flexcl/learner.h"
#include "flexcl/model.h"
#include "flexcl/optim.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum { FLEXCL_EXP_TRAIN = 0 } flexcl_experiment;

typedef struct {
    flexcl_experiment experiment; /* run.experiment; default train */
    uint64_t seed;            /* run.seed; default 1 */
    uint64_t steps;           /* run.steps: time steps per learner; default 400000 */
    uint64_t eval_every;      /* run.eval_every: steps between curve points; default 20000 */
    int replicates;           /* run.replicates: repeats of every grid point; default 1 */
    int learners_per_rank;    /* run.learners_per_rank; default 1 */
    uint64_t average_every;   /* run.average_every: steps between parameter averages, 0 = never; default 0 */
    int same_init;            /* run.same_init: 1 = all learners start from the same θ; default 1 */
    int threads;              /* run.threads: OpenMP threads, 0 = OMP_NUM_THREADS; default 0 */
} flexcl_run_settings;

typedef struct {
    flexcl_run_settings run;
    flexcl_data_settings data;
    flexcl_model_settings model;
    flexcl_estimator_settings estimator;
    flexcl_optim_settings optim;
} flexcl_settings;

/* Every field at its documented default. Not collective. */
void flexcl_settings_default(flexcl_settings *s);

typedef struct flexcl_job flexcl_job;

/* Parse text (the job file's bytes; filename is used in messages only),
 * apply the overrides "section.key=value" in order, expand the grid and
 * validate every grid point (including cross-key rules such as
 * uniform_halfwidth < tau). Not collective. */
flexcl_code flexcl_job_create(const char *text, const char *filename,
                              size_t n_overrides, const char *const *overrides,
                              flexcl_job **out);
void flexcl_job_destroy(flexcl_job **job); /* NULL-safe */

/* Rank 0 of comm reads path and broadcasts its bytes; every rank then calls
 * flexcl_job_create, so all ranks agree on success or on the same error.
 * A file that cannot be read, is larger than 1 MiB or contains a NUL byte
 * fails with FLEXCL_ERR_JOB naming the file. Collective on comm. */
flexcl_code flexcl_job_load(MPI_Comm comm, const char *path, size_t n_overrides,
                            const char *const *overrides, flexcl_job **out);

const char *flexcl_job_text(const flexcl_job *job);     /* verbatim file text */
const char *flexcl_job_filename(const flexcl_job *job);
size_t flexcl_job_n_points(const flexcl_job *job);
/* The complete settings of grid point i < n_points. */
flexcl_code flexcl_job_point(const flexcl_job *job, size_t i, flexcl_settings *out);
/* Grid axes: "section.key" names and, per point, the value as written. */
size_t flexcl_job_n_axes(const flexcl_job *job);
const char *flexcl_job_axis_name(const flexcl_job *job, size_t axis);
size_t flexcl_job_axis_length(const flexcl_job *job, size_t axis);
/* Value of axis `axis` at point i, as normalised text ("0.5", "isd"). */
const char *flexcl_job_point_value(const flexcl_job *job, size_t i, size_t axis);
/* Replicate index r of point i. */
int flexcl_job_point_replicate(const flexcl_job *job, size_t i);

/* Where "section.key" was set: "FILE:LINE", "--set section.key=value", or
 * "default" when neither the file nor an override sets it; NULL for an
 * unknown key. Lets callers name the key behind a later failure (a data
 * file that does not load). */
const char *flexcl_job_key_location(const flexcl_job *job, const char *name);

/* The key table, for help texts and documentation. */
typedef struct {
    const char *section;
    const char *key;
    const char *type;    /* "int", "uint", "real", "bool", "string", "path", or "a|b|c" for enums */
    const char *unit;    /* "" when dimensionless */
    const char *help;    /* one sentence */
    int listable;        /* 1 when the key may form a grid axis */
} flexcl_job_key_info;

size_t flexcl_job_key_count(void);
flexcl_job_key_info flexcl_job_key(size_t i);
/* Text of key i's default value. */
void flexcl_job_key_default(size_t i, char *buf, size_t n);

#ifdef __cplusplus
}
#endif
#endif /* FLEXCL_JOB_H */
