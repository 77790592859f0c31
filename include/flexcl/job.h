/* flexcl/job.h — job files: INI text → a grid of fully validated settings.
 *
 * A job file is INI (parsed with inih) with the sections [run], [data],
 * [model], [estimator], [optim], [theta0], [tcl] and [grid] (plus the sub-grids
 * [grid.NAME] below); every key is listed in a table (see
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
 *
 * Sub-grids. Sections [grid.NAME] (NAME: letters, digits, '_' and '-';
 * unique) each hold keys written "section.key = value" and optionally
 * "zip = section.a, section.b". When a job has sub-grids, its points are
 * the concatenation, in file order, of one grid per sub-grid: the base
 * (every key outside [grid.NAME], lists and [grid] zip included) with the
 * sub-grid's keys applied, a key set there replacing the base's value (a
 * list with a scalar, a scalar with a list, one zip with another; "zip ="
 * drops the base's zip). Each sub-grid expands like a job of its own: the
 * base's axes first (in the base's order, also when the sub-grid lists the
 * key again), then the keys that are lists only in the sub-grid, in its
 * order; replicates fastest. Values, cross-key rules and the limit of
 * 1,000,000 points (over all sub-grids together) are checked at every
 * point; an error names the line inside [grid.NAME] when the sub-grid sets
 * the key, and the sub-grid ("in [grid.NAME]") otherwise. (The limit is
 * run.max_points, see Size below.) Without
 * [grid.NAME] sections none of this applies.
 *
 * Includes. A line "@include PATH" (PATH relative to the including file's
 * directory unless absolute; a ';' or '#' after whitespace starts a comment)
 * is replaced by the lines of that file, which starts outside any section;
 * after it the including file's section is in force again. Includes nest up
 * to 16 deep; a cycle, a missing or non-regular file is an error naming the
 * including FILE:LINE. Keys of every file share one namespace: a key set in
 * two places is a duplicate, reported with both places ("b.ini:3:
 * estimator.b: duplicated key (first set at a.ini:5)"). Errors name the
 * file and line where the text was written. flexcl_job_read expands the
 * includes; flexcl_job_create takes expanded text only (an "@include" line
 * there is an error) and marks file changes with ";@flexcl:" comment lines
 * that flexcl_job_read writes (see there).
 *
 * Text. A job file is UTF-8: a byte sequence that is not UTF-8 (or a
 * control character other than tab) is an error naming FILE:LINE and the
 * column.
 *
 * Size. run.max_points (default 1,000,000, at most 100,000,000) bounds the
 * number of grid points of the whole job, replicates and sub-grids
 * included; it may only be set outside [grid.NAME].
 *
 * Supervised learners. model.kind is a registered model (flexcl/model.h)
 * or one of ff, dp, dpt, backprop (flexcl/supervised.h). Cross-key rules:
 * ff does not take estimator.kind = aol; dp needs model.alpha = 0.5.
 *
 * Temporal CL. The keys of section [tcl] live in estimator.tcl (see
 * flexcl/tcl.h); they are checked (tcl.tau_fast and tcl.tau_slow whole
 * multiples of tcl.dt, tcl.dt <= tcl.tau_kernel for the feedback kernel,
 * tcl.amp_lo < tcl.amp_hi) at points with estimator.kind = tcl or
 * run.experiment = tcl_synapse, and estimator.kind = tcl needs a model
 * with graded clamping (the nudge operation of flexcl/model.h).
 *
 * Overrides. "--set section.key=value" replaces the key everywhere: in the
 * base and in every sub-grid (a sub-grid that set the key no longer does).
 * A list given by an override is thus a base axis: in its base place when
 * the file sets the key outside [grid.NAME], else after the base's other
 * axes and before the keys that only sub-grids list.
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
#include "flexcl/results.h"
#include "flexcl/supervised.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    FLEXCL_EXP_TRAIN = 0,        /* learning curves */
    FLEXCL_EXP_ISD_VARIANCE = 1, /* samples of the isd estimator at fixed θ₀ */
    FLEXCL_EXP_AOL_BIAS = 2,     /* phases of always-on learning at fixed θ₀ */
    FLEXCL_EXP_TCL_SYNAPSE = 3   /* temporal CL: one synapse under the sawtooth (flexcl/tcl.h) */
} flexcl_experiment;

/* The job-file name of an experiment ("train", "isd_variance", "aol_bias",
 * "tcl_synapse"); "?" for an unknown value. */
const char *flexcl_experiment_name(flexcl_experiment e);

typedef enum {
    FLEXCL_SAMPLER_EXACT = 0, /* exact equilibrium draws (small models) */
    FLEXCL_SAMPLER_CHAIN = 1  /* persistent chains run τ steps per phase */
} flexcl_sampler;

typedef enum {
    FLEXCL_THETA0_INIT = 0,  /* the model's initialisation */
    FLEXCL_THETA0_TRAIN = 1, /* CD-k training from the initialisation */
    FLEXCL_THETA0_FILE = 2   /* parameters from a results file */
} flexcl_theta0_source;

/* θ₀ of the isd_variance and aol_bias experiments: one θ₀ for every grid
 * point of a job (its random stream does not depend on the point), so that
 * curves over b, η and τ are measured at the same parameters. */
typedef struct {
    flexcl_theta0_source source; /* theta0.source; default train */
    uint64_t updates;   /* theta0.updates: CD-k updates for source = train; default 2000 */
    double eta;         /* theta0.eta: SGD rate of that training; default 0.05 */
    int k;              /* theta0.k: Gibbs steps of CD-k; default 10 */
    char file[FLEXCL_PATH_MAX]; /* theta0.file: results file for source = file */
    uint64_t point;     /* theta0.point: grid point in that file; default 0 */
    uint64_t learner;   /* theta0.learner: row of params/theta; default 0 */
} flexcl_theta0_settings;

/* What keys a grid point's random streams besides run.seed (SPEC §5). */
typedef enum {
    FLEXCL_STREAMS_POINT = 0,     /* the grid point index: every point independent */
    FLEXCL_STREAMS_REPLICATE = 1  /* the replicate index only: points that differ
                                     only in parameters share initialisation, data
                                     order and draws (common random numbers) */
} flexcl_streams;

typedef struct {
    flexcl_experiment experiment; /* run.experiment; default train */
    uint64_t seed;            /* run.seed; default 1 */
    flexcl_streams streams;   /* run.streams: point | replicate; default point */
    uint64_t steps;           /* run.steps: time steps per learner; default 400000 */
    uint64_t eval_every;      /* run.eval_every: steps between curve points; default 20000 */
    int replicates;           /* run.replicates: repeats of every grid point; default 1 */
    int learners_per_rank;    /* run.learners_per_rank; default 1 */
    uint64_t average_every;   /* run.average_every: steps between parameter averages, 0 = never; default 0 */
    flexcl_averaging averaging; /* run.averaging: blocking | overlapped; default blocking */
    flexcl_exchange average_exchange; /* run.average_exchange: auto | allgather | sliced; default auto */
    uint64_t average_delay;   /* run.average_delay: overlapped, steps from an average's start to its application, 0 = ceil(A/2); default 0 */
    int same_init;            /* run.same_init: 1 = all learners start from the same θ; default 1 */
    int threads;              /* run.threads: OpenMP threads, 0 = OMP_NUM_THREADS; default 0 */
    uint64_t samples;         /* run.samples: ĝ samples (isd_variance) or phases (aol_bias) per point; default 20000 */
    uint64_t raw_samples;     /* run.raw_samples: first M samples stored raw; default 1000 */
    flexcl_compression sample_compression; /* run.sample_compression: deflate | none; default deflate */
    uint64_t chains;          /* run.chains: independent persistent chains sharing the samples; default 64 */
    flexcl_sampler sampler;   /* run.sampler: exact | chain (isd_variance); default exact */
    uint64_t max_points;      /* run.max_points: most grid points the job may have; default 1000000 */
} flexcl_run_settings;

typedef struct {
    flexcl_run_settings run;
    flexcl_data_settings data;
    flexcl_model_settings model;
    flexcl_estimator_settings estimator;
    flexcl_optim_settings optim;
    flexcl_theta0_settings theta0;
    /* The settings only the supervised learners (model.kind = ff | dp |
     * dpt | backprop) have: model.threshold, model.alpha, model.sweeps and
     * run.epochs. The keys they share with the registry models,
     * model.hidden, model.beta and run.eval_rows, live only in `model`
     * above (the supervised functions take both structs), and the test set
     * data.test_images, data.test_labels only in `data`.
     * Their minibatch size is estimator.batch and their learning rate
     * estimator.eta; ff also uses estimator.kind (two_term | isd | aol), b
     * and weights, and under aol tau, law and uniform_halfwidth.
     * supervised.kind is NOT set by the parser (it keeps the default): the
     * driver derives it from model.kind with flexcl_supervised_kind_parse. */
    flexcl_supervised_settings supervised;
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

/* Read the job file at path and expand its "@include" lines into one text
 * for flexcl_job_create (*text, NUL-terminated, malloc'd: the caller frees
 * it; NULL on failure). A file without includes comes back byte for byte.
 * With includes, each included file's lines are framed by comment lines
 *     ;@flexcl:include PATH        (the directive, kept as a comment)
 *     ;@flexcl:at LINE FILE        (the next line is LINE of FILE)
 *     ;@flexcl:section NAME        (NAME, possibly empty, is in force)
 * so the text stands alone (the results file stores it as job_text, and
 * flexcl merge rebuilds the job from it without the included files) while
 * errors still name the file and line where each key was written. A file
 * that cannot be read, is not a regular file (an included one), is larger
 * than 1 MiB with its includes, contains a NUL byte, nests includes more
 * than 16 deep or includes itself fails with FLEXCL_ERR_JOB and a one-line
 * message naming the file (and the including FILE:LINE). Not collective. */
flexcl_code flexcl_job_read(const char *path, char **text);

/* Rank 0 of comm reads path with flexcl_job_read and broadcasts the text;
 * every rank then calls flexcl_job_create, so all ranks agree on success or
 * on the same error. Collective on comm. */
flexcl_code flexcl_job_load(MPI_Comm comm, const char *path, size_t n_overrides,
                            const char *const *overrides, flexcl_job **out);

/* The text the job was created from: the file verbatim, or with its
 * includes expanded (see flexcl_job_read). */
const char *flexcl_job_text(const flexcl_job *job);
const char *flexcl_job_filename(const flexcl_job *job);
size_t flexcl_job_n_points(const flexcl_job *job);
/* The complete settings of grid point i < n_points. */
flexcl_code flexcl_job_point(const flexcl_job *job, size_t i, flexcl_settings *out);
/* Grid axes: "section.key" names and, per point, the value as written.
 * With sub-grids the axes are the union of every sub-grid's axes (a key
 * that is a list in any sub-grid is an axis): the base's axes first, then
 * the others in the order of their first list in the file. The length of
 * an axis is its longest list (in a job without sub-grids: its list's
 * length). Not collective; the strings belong to the job. */
size_t flexcl_job_n_axes(const flexcl_job *job);
const char *flexcl_job_axis_name(const flexcl_job *job, size_t axis);
size_t flexcl_job_axis_length(const flexcl_job *job, size_t axis);
/* Value of axis `axis` at point i, as normalised text ("0.5", "isd"); when
 * point i's sub-grid does not list that key, the text of the scalar value
 * in force at point i. NULL when i or axis is out of range. */
const char *flexcl_job_point_value(const flexcl_job *job, size_t i, size_t axis);
/* Replicate index r of point i (counted within its sub-grid, whose
 * run.replicates applies); -1 when i is out of range. */
int flexcl_job_point_replicate(const flexcl_job *job, size_t i);
/* The index that keys point i's random streams with run.seed: i itself
 * (run.streams = point) or its replicate index (run.streams = replicate). */
uint64_t flexcl_job_stream_point(const flexcl_job *job, size_t i);

/* Number of [grid.NAME] sections; 0 for a job without sub-grids. */
size_t flexcl_job_n_subgrids(const flexcl_job *job);
/* NAME of the sub-grid that holds point i, or "" for a job without
 * sub-grids; NULL when i is out of range. The string belongs to the job.
 * Not collective. */
const char *flexcl_job_point_subgrid(const flexcl_job *job, size_t i);

/* Where "section.key" was set: "FILE:LINE", "--set section.key=value", or
 * "default" when neither the file nor an override sets it; NULL for an
 * unknown key. Lets callers name the key behind a later failure (a data
 * file that does not load). With sub-grids this is the line inside the
 * first [grid.NAME] (in file order) that sets the key, else the base's;
 * use flexcl_job_point_key_location for the value in force at one point.
 * Not collective. */
const char *flexcl_job_key_location(const flexcl_job *job, const char *name);
/* Where the value of "section.key" in force at point i was set (same texts
 * as flexcl_job_key_location: inside [grid.NAME] when point i's sub-grid
 * sets the key); NULL for an unknown key or i out of range. Not
 * collective. */
const char *flexcl_job_point_key_location(const flexcl_job *job, size_t i,
                                          const char *name);

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
