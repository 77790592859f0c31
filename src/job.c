/* Job files: INI text -> a grid of fully validated settings.
 *
 * One static table (keys[] below) describes every key: section, name, type,
 * where it lives in flexcl_settings, unit, help, whether it may form a grid
 * axis, and its allowed range or names. Parsing, overrides, defaults for the
 * help text and the per-point settings all go through that table, so adding
 * a key is one line here plus the field in a settings struct.
 *
 * How inih is used (libinih 55 as built by Debian, see /usr/include/ini.h):
 *   - The handler gets no line number (INI_HANDLER_LINENO is 0), so the text
 *     is fed through ini_parse_stream with our own reader, which counts lines
 *     and keeps the raw current line; inih calls the handler for a line before
 *     it asks for the next one, so the reader's count is the handler's line.
 *   - inih never reports a section header on its own (the handler is only
 *     called for key = value lines), so the reader checks every "[section]"
 *     line itself: unknown sections are errors even when they hold no keys.
 *   - inih's line buffer is 200 bytes; a longer line would be split into
 *     pieces that inih counts as lines. The reader therefore hands inih at
 *     most one (possibly shortened) copy per line, and the handler re-reads
 *     the value from the raw line, so a path of up to FLEXCL_PATH_MAX - 1
 *     bytes survives.
 *   - Multi-line values: inih treats an indented line after a key as a
 *     continuation of that key's value. The reader strips leading
 *     whitespace, so an indented line is an ordinary line (an indented
 *     "key = value" is fine; an indented bare word is a syntax error).
 *   - Inline comments: Debian's inih strips ';' comments preceded by
 *     whitespace; '#' is only a comment at the start of a line. Because the
 *     value is re-read from the raw line, flexcl applies one rule in every
 *     build: ';' or '#' preceded by whitespace starts a comment, anywhere on
 *     the line; a ';' or '#' with no whitespace before it belongs to the
 *     value ("a#b" stays "a#b"). There is no quoting.
 *   - Duplicate keys reach the handler twice; flexcl rejects the second.
 *   - "name: value" is accepted as well as "name = value" (inih follows
 *     Python's configparser here).
 * --set overrides never pass through inih: their value is taken verbatim
 * (trimmed, no comment stripping).
 *
 * [grid] zip = a.b, c.d (documented in README.md, used by jobs/bas_isd.ini):
 * the named keys must be lists of equal length and move together. Each
 * zipped key is still reported as its own axis (name, length, value per
 * point), but the zipped axes share one index, placed where the first of
 * them appears; the point index is the job.h formula over these index
 * groups. Without [grid] every axis is its own group, exactly as job.h says.
 *
 * Sub-grids [grid.NAME] (job.h describes what they mean). The reader sees
 * every section line, so it starts a sub-grid itself (inih cuts section
 * names at 49 bytes) and routes the keys of that section to the sub-grid's
 * own slots; the handler re-reads their "section.key" names from the raw
 * line. After parsing and overrides every sub-grid becomes one `grid`: per
 * key the slot in force (its own, else the base's), the settings, axes,
 * zip groups and point count; a job without sub-grids is one such grid
 * made from the base alone, so both cases share one code path. Shapes and
 * the total count are checked before any point is validated, and the
 * job's axes are the union of the grids' axes. An override replaces a key
 * in the base and removes it from every sub-grid.
 */
#include "flexcl/job.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <ini.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "flexcl/dualprop.h"

enum {
    JOB_MAX_BYTES = 1 << 20,  /* flexcl_job_read refuses larger texts */
    JOB_MAX_POINTS = 1000000, /* default of run.max_points */
    JOB_HARD_MAX_POINTS = 100000000, /* the largest run.max_points */
    INCLUDE_DEPTH = 16,       /* nested @include files */
    LIST_MAX = 1000000,       /* n of linspace/logspace */
    TEXT_MAX = 32,            /* normalised text of one list value */
    ECHO_MAX = 120,           /* user text quoted in a message */
    WHERE_MAX = 512           /* "(grid point ...)" description */
};

/* The key table ------------------------------------------------------------*/

typedef enum {
    T_INT,    /* int field, strtoll */
    T_UINT,   /* uint64_t or size_t field, strtoull */
    T_REAL,   /* double field, strtod, finite */
    T_BOOL,   /* int field, 1/0 true/false yes/no on/off */
    T_ENUM,   /* C enum field; names in key_def.names, index = value */
    T_STRING, /* char array */
    T_PATH,   /* char array holding a file name */
    T_ZIP     /* grid.zip: key names; no settings field */
} key_type;

/* Bounds of a numeric key: which of lo/hi apply and whether they are open. */
enum { LO = 1, HI = 2, LO_OPEN = 4, HI_OPEN = 8 };

typedef struct {
    const char *section;
    const char *key;
    const char *name; /* "section.key" */
    size_t offset;    /* of the field in flexcl_settings */
    size_t size;      /* of the field */
    key_type type;
    const char *names; /* T_ENUM: "a|b|c" in enum order */
    int bounds;        /* LO | HI | LO_OPEN | HI_OPEN */
    double lo, hi;
    int listable;
    int allow_empty; /* "" is a meaningful value (data.labels) */
    /* Extra check of a string value (model.kind); NULL when none. */
    flexcl_code (*check)(const char *value, const char *loc, const char *name);
    const char *unit;
    const char *help;
} key_def;

static flexcl_code check_model_kind(const char *value, const char *loc,
                                    const char *name);
static flexcl_code check_zip(const char *value, const char *loc,
                             const char *name);
static flexcl_code check_hidden(const char *value, const char *loc,
                                const char *name);

/* The section and key names are the member names in flexcl_settings. */
#define KEY(sec, k)                                                            \
    .section = #sec, .key = #k, .name = #sec "." #k,                           \
    .offset = offsetof(flexcl_settings, sec.k),                                \
    .size = sizeof(((flexcl_settings *)0)->sec.k)
/* A key whose field lives elsewhere in flexcl_settings (the supervised
 * learners' settings, flexcl/supervised.h, are written as model.* and run.*
 * keys; run.eval_rows is the model settings' eval_rows). */
#define KEYF(sec, k, field)                                                    \
    .section = #sec, .key = #k, .name = #sec "." #k,                           \
    .offset = offsetof(flexcl_settings, field),                                \
    .size = sizeof(((flexcl_settings *)0)->field)

static const key_def keys[] = {
    {KEY(run, experiment), .type = T_ENUM,
     .names = "train|isd_variance|aol_bias|tcl_synapse", .listable = 1, .unit = "",
     .help = "What the job does: train = learning curves, isd_variance = "
             "isd samples at theta0, aol_bias = always-on phases at theta0, "
             "tcl_synapse = one temporal-CL synapse under the sawtooth (section [tcl])."},
    {KEY(run, seed), .type = T_UINT, .unit = "",
     .help = "Seed of every random stream (keyed further by grid point and learner)."},
    {KEY(run, streams), .type = T_ENUM, .names = "point|replicate", .unit = "",
     .help = "What keys each grid point's random streams with run.seed: point = its "
             "index (independent points); replicate = its replicate index, so points "
             "that differ only in parameters share initialisation, data order and "
             "draws (paired comparisons across the grid)."},
    {KEY(run, steps), .type = T_UINT, .bounds = LO, .lo = 1, .unit = "steps",
     .help = "Time steps each learner runs (one step = one step of the model dynamics)."},
    {KEY(run, eval_every), .type = T_UINT, .bounds = LO, .lo = 1,
     .unit = "steps", .help = "Steps between learning-curve points (at most run.steps)."},
    {KEY(run, replicates), .type = T_INT, .bounds = LO | HI, .lo = 1,
     .hi = INT_MAX, .unit = "",
     .help = "Independent repeats of every grid point (the fastest index)."},
    {KEY(run, learners_per_rank), .type = T_INT, .bounds = LO | HI, .lo = 1,
     .hi = 1024, .unit = "", .help = "Learners (simulated cores) on each MPI rank."},
    {KEY(run, average_every), .type = T_UINT, .listable = 1, .unit = "steps",
     .help = "Steps between parameter averages across learners; 0 = never."},
    {KEY(run, averaging), .type = T_ENUM, .names = "blocking|overlapped", .listable = 1,
     .unit = "", .help = "How learners average: blocking = all wait and take the mean every "
                         "A steps; overlapped = non-blocking, the mean is added as a delta "
                         "run.average_delay steps later (default ceil(A/2); deterministic: "
                         "never depends on timing)."},
    {KEY(run, average_exchange), .type = T_ENUM, .names = "auto|allgather|sliced|shared",
     .unit = "",
     .help = "How averages travel between ranks (the same bits every way): allgather = "
             "every rank receives every learner's parameters (R x L x P per average in "
             "flight); sliced = each rank sums 1/R of the elements (about 2 x L x P per "
             "rank, three collectives per average); shared = every rank on one node reads "
             "the others' parameters in an MPI shared-memory window (no message per "
             "average; 2 x R x L x P per node and average in flight); auto = shared on "
             "one node while R x L x P <= 4194304, else sliced from 3 ranks when "
             "R x L x P exceeds 4194304, else allgather."},
    {KEY(run, average_delay), .type = T_UINT, .listable = 1, .unit = "steps",
     .help = "Overlapped averaging: steps from an average's start to its application, "
             "1..16 x run.average_every; 0 = ceil(A/2). Longer: staler averages, fewer "
             "waits for a slower rank; above A, ceil(D/A) averages are in flight at once, "
             "each holding its buffers (run.average_exchange)."},
    {KEY(run, same_init), .type = T_BOOL, .listable = 1, .unit = "",
     .help = "1 = all learners start from the same parameters."},
    {KEY(run, threads), .type = T_INT, .bounds = LO | HI, .lo = 0, .hi = 1024,
     .unit = "", .help = "OpenMP threads per rank; 0 = OMP_NUM_THREADS."},
    {KEY(run, samples), .type = T_UINT, .bounds = LO, .lo = 1, .listable = 1,
     .unit = "samples",
     .help = "Samples of the estimate (isd_variance) or phases (aol_bias) per grid point."},
    {KEY(run, raw_samples), .type = T_UINT, .unit = "samples",
     .help = "The first raw_samples samples are stored raw (at most run.samples)."},
    {KEY(run, sample_compression), .type = T_ENUM, .names = "deflate|none", .unit = "",
     .help = "How the raw samples (samples/*) are stored: deflate = shuffle + deflate "
             "(small files); none = chunked, unfiltered (several times faster to write, "
             "larger files)."},
    {KEY(run, chains), .type = T_UINT, .bounds = LO | HI, .lo = 1, .hi = 1e6,
     .unit = "chains",
     .help = "Independent persistent chains that share the samples of a point."},
    {KEY(run, sampler), .type = T_ENUM, .names = "exact|chain", .listable = 1,
     .unit = "",
     .help = "isd_variance draws: exact equilibrium draws or persistent chains."},
    {KEY(run, max_points), .type = T_UINT, .bounds = LO | HI, .lo = 1,
     .hi = JOB_HARD_MAX_POINTS, .unit = "points",
     .help = "Most grid points the job may have (all sub-grids and replicates); "
             "a guard against a typo that makes a huge grid."},
    {KEYF(run, epochs, supervised.epochs), .type = T_UINT, .bounds = LO | HI,
     .lo = 1, .hi = 1e6, .listable = 1, .unit = "epochs",
     .help = "Passes over the training rows of a supervised learner "
             "(model.kind = ff, dp, dpt or backprop)."},
    {KEYF(run, eval_rows, model.eval_rows), .type = T_UINT,
     .unit = "rows",
     .help = "Rows (from the first) whose accuracy a supervised learner's "
             "curve records after each epoch, and that eqprop classifies at "
             "each curve point (training and test set); 0 = all."},

    {KEY(data, source), .type = T_ENUM, .names = "bas|idx", .listable = 1,
     .unit = "", .help = "Training data: bas = bars and stripes, idx = IDX image files."},
    {KEY(data, bas_n), .type = T_INT, .bounds = LO | HI, .lo = 2, .hi = 12,
     .listable = 1, .unit = "pixels", .help = "Side n of the n x n bars-and-stripes images."},
    {KEY(data, images), .type = T_PATH, .unit = "",
     .help = "IDX images file (idx3-ubyte, raw or gzip) for source = idx."},
    {KEY(data, labels), .type = T_PATH, .allow_empty = 1, .unit = "",
     .help = "IDX labels file (idx1-ubyte); empty = no labels."},
    {KEY(data, threshold), .type = T_REAL, .bounds = LO | HI | HI_OPEN,
     .lo = -1, .hi = 1, .listable = 1, .unit = "",
     .help = "A pixel becomes 1 when pixel/255 > threshold; negative keeps grey values."},
    {KEY(data, label_block), .type = T_BOOL, .listable = 1, .unit = "",
     .help = "1 = append a one-hot block of n_classes label units (needs data.labels)."},
    {KEY(data, n_classes), .type = T_INT, .bounds = LO | HI, .lo = 2,
     .hi = 1000, .listable = 1, .unit = "", .help = "Number of classes of the label block."},
    {KEY(data, max_rows), .type = T_UINT, .listable = 1, .unit = "rows",
     .help = "Keep only the first max_rows examples; 0 = all."},
    {KEY(data, test_images), .type = T_PATH,
     .allow_empty = 1, .unit = "",
     .help = "IDX test images of a supervised learner's or a registry "
             "model's test accuracy (binarised like data.images); empty = no test set."},
    {KEY(data, test_labels), .type = T_PATH,
     .allow_empty = 1, .unit = "",
     .help = "IDX test labels matching data.test_images."},

    {KEY(model, kind), .type = T_STRING, .check = check_model_kind, .unit = "",
     .help = "Model kind: a name in the model registry (e.g. rbm) or a "
             "supervised learner ff, dp, dpt, backprop."},
    {KEY(model, n_hidden), .type = T_INT, .bounds = LO | HI, .lo = 1,
     .hi = 100000, .listable = 1, .unit = "units", .help = "Number of hidden units."},
    {KEY(model, visible_bias), .type = T_BOOL, .listable = 1, .unit = "",
     .help = "1 = learn a visible bias; 0 = keep it at zero (the authors' RBM)."},
    {KEY(model, init_sigma), .type = T_REAL, .bounds = LO, .lo = 0,
     .listable = 1, .unit = "",
     .help = "Standard deviation of the initial weights W ~ N(0, init_sigma^2)."},
    {KEY(model, hidden), .type = T_STRING,
     .check = check_hidden, .unit = "units",
     .help = "Hidden widths of ff/dp/dpt/backprop and eqprop, comma-separated (e.g. "
             "500,500); auto = the authors' (ff 500,500; dp, dpt, backprop 512,512), "
             "eqprop one layer of model.n_hidden units."},
    {KEYF(model, threshold, supervised.threshold), .type = T_REAL,
     .listable = 1, .unit = "",
     .help = "Forward-Forward goodness threshold theta (mean h^2 per layer)."},
    {KEYF(model, alpha, supervised.alpha), .type = T_REAL, .bounds = LO | HI,
     .lo = 0, .hi = 1, .listable = 1, .unit = "",
     .help = "Dual propagation weight alpha of s+ in the mean state (dp needs 0.5)."},
    {KEY(model, beta), .type = T_REAL, .listable = 1, .unit = "",
     .help = "Nudging strength beta of the output: dp/dpt beta > 0; eqprop "
             "beta != 0 (its sign is the direction of the nudge)."},
    {KEY(model, epsilon), .type = T_REAL, .bounds = LO | HI | LO_OPEN, .lo = 0,
     .hi = 1, .listable = 1, .unit = "",
     .help = "eqprop relaxation step size epsilon: s <- clip(s - epsilon dF/ds)."},
    {KEYF(model, nudging, model.symmetric), .type = T_ENUM,
     .names = "one_sided|symmetric", .listable = 1, .unit = "",
     .help = "eqprop nudging: one_sided = free and +beta phases, update "
             "(G(beta) - G(0))/beta; symmetric = -beta and +beta phases, "
             "(G(beta) - G(-beta))/(2 beta)."},
    {KEY(model, eval_steps), .type = T_INT, .bounds = LO | HI, .lo = 1,
     .hi = 1000000, .listable = 1, .unit = "steps",
     .help = "eqprop free-relaxation steps from zero when classifying a row "
             "for the error curves."},
    {KEYF(model, sweeps, supervised.sweeps), .type = T_INT,
     .bounds = LO | HI, .lo = 1, .hi = 10000, .listable = 1, .unit = "sweeps",
     .help = "Dual propagation layer sweeps K after the feed-forward pass."},

    {KEY(estimator, kind), .type = T_ENUM, .names = "two_term|isd|aol|tcl",
     .listable = 1, .unit = "",
     .help = "Gradient estimator: two_term, isd or aol (SPEC section 2), or tcl "
             "(temporal CL: sawtooth nudging + per-parameter memory, section [tcl])."},
    {KEY(estimator, eta), .type = T_REAL, .bounds = LO | LO_OPEN, .lo = 0,
     .listable = 1, .unit = "", .help = "Learning rate eta (aol applies eta/tau per step)."},
    {KEY(estimator, b), .type = T_REAL, .bounds = LO | HI | LO_OPEN | HI_OPEN,
     .lo = 0, .hi = 1, .listable = 1, .unit = "",
     .help = "Probability that a phase is positive (isd, aol)."},
    {KEY(estimator, weights), .type = T_ENUM, .names = "importance|unit|swapped",
     .listable = 1, .unit = "",
     .help = "Phase weights: importance (unbiased), unit (authors' run) or swapped (biased control)."},
    {KEY(estimator, tau), .type = T_REAL, .bounds = LO, .lo = 1, .listable = 1,
     .unit = "steps", .help = "Mean phase length tau."},
    {KEY(estimator, law), .type = T_ENUM, .names = "fixed|geometric|uniform",
     .listable = 1, .unit = "", .help = "Law of the phase length: fixed, geometric or uniform."},
    {KEY(estimator, uniform_halfwidth), .type = T_INT, .bounds = LO | HI,
     .lo = 0, .hi = INT_MAX, .listable = 1, .unit = "steps",
     .help = "Half-width w of the uniform law on {tau-w, ..., tau+w}; w < tau."},
    {KEY(estimator, persistent), .type = T_BOOL, .listable = 1, .unit = "",
     .help = "two_term: 1 = one persistent chain, 0 = CD-K restarted from the data."},
    {KEY(estimator, batch), .type = T_INT, .bounds = LO | HI, .lo = 1,
     .hi = 100000, .listable = 1, .unit = "", .help = "Chains per learner (minibatch size)."},

    {KEY(optim, kind), .type = T_ENUM, .names = "sgd|adam", .listable = 1,
     .unit = "", .help = "Optimiser: sgd or adam (both ascend the CL direction)."},
    {KEY(optim, beta1), .type = T_REAL, .bounds = LO | HI | HI_OPEN, .lo = 0,
     .hi = 1, .listable = 1, .unit = "", .help = "Adam first-moment decay."},
    {KEY(optim, beta2), .type = T_REAL, .bounds = LO | HI | HI_OPEN, .lo = 0,
     .hi = 1, .listable = 1, .unit = "", .help = "Adam second-moment decay."},
    {KEY(optim, epsilon), .type = T_REAL, .bounds = LO | LO_OPEN, .lo = 0,
     .listable = 1, .unit = "", .help = "Adam denominator guard."},

    {KEY(theta0, source), .type = T_ENUM, .names = "init|train|file",
     .unit = "",
     .help = "Where theta0 comes from: the initialisation, CD-k training or a results file."},
    {KEY(theta0, updates), .type = T_UINT, .unit = "updates",
     .help = "CD-k updates that train theta0 (source = train)."},
    {KEY(theta0, eta), .type = T_REAL, .bounds = LO | LO_OPEN, .lo = 0,
     .unit = "", .help = "SGD learning rate of the CD-k training of theta0."},
    {KEY(theta0, k), .type = T_INT, .bounds = LO | HI, .lo = 1, .hi = 100000,
     .unit = "steps", .help = "Gibbs steps k of the CD-k training of theta0."},
    {KEY(theta0, file), .type = T_PATH, .allow_empty = 1, .unit = "",
     .help = "Results file (HDF5) that holds theta0 (source = file)."},
    {KEY(theta0, point), .type = T_UINT, .unit = "",
     .help = "Grid point of that results file whose parameters are theta0."},
    {KEY(theta0, learner), .type = T_UINT, .unit = "",
     .help = "Learner (row of params/theta) of that point whose parameters are theta0."},

    {KEYF(tcl, kernel, estimator.tcl.kernel), .type = T_ENUM, .names = "feedback|fir_sine",
     .listable = 1, .unit = "",
     .help = "TCL memory kernel: feedback (integral feedback u = s - m, "
             "tau_K dm/dt = (1 - area) s - m) or fir_sine (the authors' K[k] = sin(2 pi k/10)/3)."},
    {KEYF(tcl, tau_kernel, estimator.tcl.tau_kernel), .type = T_REAL,
     .bounds = LO | LO_OPEN, .lo = 0, .listable = 1, .unit = "time",
     .help = "Memory time constant tau_K of the feedback kernel."},
    {KEYF(tcl, area, estimator.tcl.area), .type = T_REAL, .bounds = LO | HI | HI_OPEN,
     .lo = 0, .hi = 1, .listable = 1, .unit = "",
     .help = "Area I of the feedback kernel; 0 = perfect adaptation (a nonzero area is a control)."},
    {KEYF(tcl, threshold, estimator.tcl.threshold), .type = T_REAL, .bounds = LO, .lo = 0,
     .listable = 1, .unit = "units of s",
     .help = "Dead zone theta_g: g(u) = u when |u| >= theta_g, else 0 (0 = no dead zone)."},
    {KEYF(tcl, dt, estimator.tcl.dt), .type = T_REAL, .bounds = LO | LO_OPEN, .lo = 0,
     .listable = 1, .unit = "time",
     .help = "Time step of the memory; one sawtooth sample (ramp point) per dt."},
    {KEYF(tcl, tau_fast, estimator.tcl.tau_fast), .type = T_REAL, .bounds = LO | LO_OPEN,
     .lo = 0, .listable = 1, .unit = "time",
     .help = "Duration tau_f of the sawtooth's up ramp (free -> clamped); a multiple of tcl.dt."},
    {KEYF(tcl, tau_slow, estimator.tcl.tau_slow), .type = T_REAL, .bounds = LO | LO_OPEN,
     .lo = 0, .listable = 1, .unit = "time",
     .help = "Duration tau_s of the down ramp (clamped -> free); a multiple of tcl.dt."},
    {KEYF(tcl, relax, estimator.tcl.relax), .type = T_INT, .bounds = LO | HI, .lo = 1,
     .hi = 100000, .listable = 1, .unit = "steps",
     .help = "estimator.kind = tcl: model steps at every ramp point before its current is read."},
    {KEYF(tcl, down, estimator.tcl.down), .type = T_ENUM, .names = "interpolate|run",
     .listable = 1, .unit = "",
     .help = "estimator.kind = tcl: down-ramp currents interpolated from the up ramp's "
             "(the authors) or the model run down the ramp."},
    {KEYF(tcl, s_free, estimator.tcl.s_free), .type = T_REAL, .listable = 1,
     .unit = "units of s", .help = "tcl_synapse: the free-phase current s_free."},
    {KEYF(tcl, amp_lo, estimator.tcl.amp_lo), .type = T_REAL, .bounds = LO | LO_OPEN,
     .lo = 0, .listable = 1, .unit = "units of s",
     .help = "tcl_synapse: smallest amplitude A = s_clamped - s_free of the sweep."},
    {KEYF(tcl, amp_hi, estimator.tcl.amp_hi), .type = T_REAL, .bounds = LO | LO_OPEN,
     .lo = 0, .listable = 1, .unit = "units of s",
     .help = "tcl_synapse: largest amplitude of the (geometric) sweep."},
    {KEYF(tcl, amplitudes, estimator.tcl.amplitudes), .type = T_INT, .bounds = LO | HI,
     .lo = 2, .hi = 100000, .listable = 1, .unit = "",
     .help = "tcl_synapse: amplitudes in the sweep."},
    {KEYF(tcl, cycles, estimator.tcl.cycles), .type = T_UINT, .bounds = LO | HI, .lo = 1,
     .hi = 1e6, .listable = 1, .unit = "cycles",
     .help = "tcl_synapse: sawtooth cycles per amplitude (dw per cycle is averaged over all but the first)."},
    {KEYF(tcl, tolerance, estimator.tcl.tolerance), .type = T_REAL,
     .bounds = LO | HI | LO_OPEN, .lo = 0, .hi = 1, .listable = 1, .unit = "",
     .help = "tcl_synapse: relative tolerance of the learning law |dw - tau_K A| <= tol tau_K A."},

    /* Not a settings field: it shapes the grid. */
    {.section = "grid", .key = "zip", .name = "grid.zip", .type = T_ZIP,
     .allow_empty = 1, .check = check_zip, .unit = "",
     .help = "Listed keys (section.key, comma-separated) of equal length that "
             "vary together as one axis; empty = none."},
};

#undef KEY
#undef KEYF

enum { N_KEYS = sizeof keys / sizeof keys[0] };

static const char *const sections[] = {"run",   "data",   "model", "estimator",
                                       "optim", "theta0", "tcl",   "grid"};

/* Enum fields are written as int; the names above are in enum order. */
_Static_assert(sizeof(flexcl_experiment) == sizeof(int), "enum size");
_Static_assert(sizeof(flexcl_data_source) == sizeof(int), "enum size");
_Static_assert(sizeof(flexcl_estimator_kind) == sizeof(int), "enum size");
_Static_assert(sizeof(flexcl_weights) == sizeof(int), "enum size");
_Static_assert(sizeof(flexcl_phase_law) == sizeof(int), "enum size");
_Static_assert(sizeof(flexcl_optim_kind) == sizeof(int), "enum size");
_Static_assert(sizeof(flexcl_sampler) == sizeof(int), "enum size");
_Static_assert(sizeof(flexcl_theta0_source) == sizeof(int), "enum size");
_Static_assert(sizeof(flexcl_averaging) == sizeof(int), "enum size");
_Static_assert(sizeof(flexcl_exchange) == sizeof(int), "enum size");
_Static_assert(sizeof(flexcl_tcl_kernel) == sizeof(int), "enum size");
_Static_assert(sizeof(flexcl_tcl_down) == sizeof(int), "enum size");
_Static_assert(sizeof(flexcl_streams) == sizeof(int), "enum size");
_Static_assert(sizeof(flexcl_compression) == sizeof(int), "enum size");
_Static_assert(FLEXCL_DATA_IDX == 1 && FLEXCL_EST_AOL == 2 &&
                   FLEXCL_WEIGHTS_SWAPPED == 2 && FLEXCL_LAW_UNIFORM == 2 &&
                   FLEXCL_OPTIM_ADAM == 1 && FLEXCL_EXP_AOL_BIAS == 2 &&
                   FLEXCL_SAMPLER_CHAIN == 1 && FLEXCL_THETA0_FILE == 2 &&
                   FLEXCL_AVERAGING_OVERLAPPED == 1 && FLEXCL_EST_TCL == 3 &&
                   FLEXCL_EXCHANGE_SLICED == 2 &&
                   FLEXCL_EXP_TCL_SYNAPSE == 3 && FLEXCL_TCL_FIR_SINE == 1 &&
                   FLEXCL_TCL_DOWN_RUN == 1 && FLEXCL_STREAMS_REPLICATE == 1 &&
                   FLEXCL_COMPRESSION_NONE == 1,
               "enum order matches the names in keys[]");

/* Values -------------------------------------------------------------------*/

/* One parsed value of a numeric, bool or enum key (bool and enum in i). */
typedef union {
    long long i;
    unsigned long long u;
    double r;
} num;

/* What the job text (and overrides) say about one key. */
typedef struct {
    int order;    /* 1 + rank of first appearance; 0 = never set */
    int line;     /* line in the job file; 0 when set by --set */
    char *loc;    /* "FILE:LINE" or "--set section.key=value" */
    int is_list;  /* written as a list, linspace or logspace: a grid axis */
    size_t n;     /* values (1 for a scalar) */
    num *vals;
    char (*texts)[TEXT_MAX]; /* normalised text of each value */
    char *str;    /* value of a string or path key */
} slot;

/* One grid: the whole job without sub-grids, or one [grid.NAME] section. */
typedef struct {
    char *name;         /* NAME of [grid.NAME]; "" for a job without sub-grids */
    char *loc;          /* "FILE:LINE" of the [grid.NAME] line; NULL without */
    int line;           /* that line; 0 without sub-grids */
    slot slots[N_KEYS]; /* keys the section sets; all unset without sub-grids */
    /* The expansion, filled by build_one: */
    const slot *eff[N_KEYS]; /* slot in force per key: own, else the job's */
    flexcl_settings base;    /* defaults + every scalar value in force */
    int replicates;
    size_t first;            /* global index of its point 0 */
    size_t n_points;
    size_t n_axes;
    size_t axes[N_KEYS];     /* key index of each axis, in axis order */
    /* Zipped axes share one index: axis a moves with index group[a]; groups
     * are ordered by their first axis, and n_groups <= n_axes. */
    size_t group[N_KEYS];
    size_t n_groups;
    size_t group_len[N_KEYS];
    /* Per axis u of the job (the union): its axis here, or SIZE_MAX when the
     * key is a scalar here and scalar[u] holds its text. */
    size_t local[N_KEYS];
    char (*scalar)[TEXT_MAX];
} grid;

struct flexcl_job {
    char *text;
    char *filename;
    slot slots[N_KEYS];  /* the base: everything outside [grid.NAME] */
    int n_set;           /* keys set so far, base and sub-grids (slot.order) */
    size_t n_subgrids;   /* [grid.NAME] sections */
    grid *grids;         /* the sub-grids, or one grid when there are none */
    size_t n_grids;
    size_t n_points;     /* over all grids */
    size_t max_points;   /* run.max_points in force */
    size_t n_axes;       /* the union of the grids' axes */
    size_t axes[N_KEYS];
    size_t axis_len[N_KEYS]; /* the longest list of each axis */
};

/* Small helpers ------------------------------------------------------------*/

static int is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' ||
           c == '\f';
}

/* Copy [s, s + n) without leading and trailing whitespace into a new string. */
static char *dup_trimmed(const char *s, size_t n)
{
    while (n > 0 && is_blank(*s)) ++s, --n;
    while (n > 0 && is_blank(s[n - 1])) --n;
    char *d = malloc(n + 1);
    if (d) {
        memcpy(d, s, n);
        d[n] = '\0';
    }
    return d;
}

static char *dup_printf(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));
static char *dup_printf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) return NULL;
    char *s = malloc((size_t)n + 1);
    if (s == NULL) return NULL;
    va_start(ap, fmt);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return s;
}

/* Length of the well-formed UTF-8 sequence (RFC 3629: no overlong forms,
 * no surrogates, nothing above U+10FFFF) that starts at s, of at most len
 * bytes; 0 when there is none. */
static size_t utf8_length(const unsigned char *s, size_t len)
{
    const unsigned c = s[0];
    size_t n;
    unsigned lo = 0x80, hi = 0xbf;
    if (c < 0x80) return 1;
    if (c >= 0xc2 && c <= 0xdf)
        n = 1;
    else if (c >= 0xe0 && c <= 0xef) {
        n = 2;
        if (c == 0xe0) lo = 0xa0;
        if (c == 0xed) hi = 0x9f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 3;
        if (c == 0xf0) lo = 0x90;
        if (c == 0xf4) hi = 0x8f;
    } else
        return 0;
    if (len <= n || s[1] < lo || s[1] > hi) return 0;
    for (size_t k = 2; k <= n; ++k)
        if (s[k] < 0x80 || s[k] > 0xbf) return 0;
    return n + 1;
}

/* User text made safe for a one-line message: control characters and
 * bytes that are not UTF-8 become '?', and long text is cut after about
 * ECHO_MAX bytes (never inside a character) followed by "...". */
static const char *echo(const char *s, char buf[ECHO_MAX + 4])
{
    const unsigned char *u = (const unsigned char *)s;
    const size_t len = strlen(s);
    size_t i = 0, o = 0;
    while (i < len && o < ECHO_MAX) {
        size_t n = utf8_length(u + i, len - i);
        if (n == 0 || (n == 1 && (iscntrl(u[i]) || u[i] == 0x7f))) {
            buf[o++] = '?';
            ++i;
        } else if (o + n <= ECHO_MAX) {
            memcpy(buf + o, s + i, n);
            o += n;
            i += n;
        } else
            break;
    }
    if (i < len) {
        memcpy(buf + o, "...", 3);
        o += 3;
    }
    buf[o] = '\0';
    return buf;
}

/* Name number idx of an enum key ("a|b|c"), copied into buf. */
static void enum_name(const key_def *k, long long idx, char *buf, size_t n)
{
    const char *p = k->names;
    for (long long i = 0; i < idx && p != NULL; ++i) {
        p = strchr(p, '|');
        if (p) ++p;
    }
    if (p == NULL || idx < 0) {
        snprintf(buf, n, "%lld", idx);
        return;
    }
    size_t len = strcspn(p, "|");
    snprintf(buf, n, "%.*s", (int)len, p);
}

/* Index of name in an enum key's names, or -1. */
static long long enum_index(const key_def *k, const char *name)
{
    const char *p = k->names;
    size_t want = strlen(name);
    for (long long i = 0; p != NULL; ++i) {
        size_t len = strcspn(p, "|");
        if (len == want && strncmp(p, name, len) == 0) return i;
        p = strchr(p, '|');
        if (p) ++p;
    }
    return -1;
}

/* Normalised text of one value of key k. */
static void format_value(const key_def *k, num v, char *buf, size_t n)
{
    switch (k->type) {
    case T_INT: snprintf(buf, n, "%lld", v.i); break;
    case T_UINT: snprintf(buf, n, "%llu", v.u); break;
    case T_REAL: flexcl_error_format_real(v.r, buf, n); break;
    case T_BOOL: snprintf(buf, n, "%d", v.i != 0); break;
    case T_ENUM: enum_name(k, v.i, buf, n); break;
    case T_STRING:
    case T_PATH:
    case T_ZIP: snprintf(buf, n, "%s", ""); break;
    }
}

static size_t section_index(const char *section)
{
    for (size_t i = 0; i < sizeof sections / sizeof sections[0]; ++i)
        if (strcmp(sections[i], section) == 0) return i;
    return SIZE_MAX;
}

static size_t key_index(const char *section, const char *key)
{
    for (size_t i = 0; i < N_KEYS; ++i)
        if (strcmp(keys[i].section, section) == 0 &&
            strcmp(keys[i].key, key) == 0)
            return i;
    return N_KEYS;
}

static size_t key_by_name(const char *name)
{
    for (size_t i = 0; i < N_KEYS; ++i)
        if (strcmp(keys[i].name, name) == 0) return i;
    return N_KEYS;
}

/* Fields of flexcl_settings ------------------------------------------------*/

static num read_field(const flexcl_settings *s, const key_def *k)
{
    const char *f = (const char *)s + k->offset;
    num v = {.i = 0};
    switch (k->type) {
    case T_INT:
    case T_BOOL:
    case T_ENUM: {
        int x;
        memcpy(&x, f, sizeof x);
        v.i = x;
        break;
    }
    case T_UINT:
        if (k->size == sizeof(uint64_t)) {
            uint64_t x;
            memcpy(&x, f, sizeof x);
            v.u = x;
        } else {
            uint32_t x;
            memcpy(&x, f, sizeof x);
            v.u = x;
        }
        break;
    case T_REAL: memcpy(&v.r, f, sizeof v.r); break;
    case T_STRING:
    case T_PATH:
    case T_ZIP: break;
    }
    return v;
}

static void write_field(flexcl_settings *s, const key_def *k, num v)
{
    char *f = (char *)s + k->offset;
    switch (k->type) {
    case T_INT:
    case T_BOOL:
    case T_ENUM: {
        int x = (int)v.i;
        memcpy(f, &x, sizeof x);
        break;
    }
    case T_UINT:
        if (k->size == sizeof(uint64_t)) {
            uint64_t x = v.u;
            memcpy(f, &x, sizeof x);
        } else {
            uint32_t x = (uint32_t)v.u;
            memcpy(f, &x, sizeof x);
        }
        break;
    case T_REAL: memcpy(f, &v.r, sizeof v.r); break;
    case T_STRING:
    case T_PATH:
    case T_ZIP: break;
    }
}

/* Text of key k's value in s (the same text a list value would get). */
static void format_field(const flexcl_settings *s, const key_def *k, char *buf,
                         size_t n)
{
    if (k->type == T_ZIP)
        snprintf(buf, n, "%s", "");
    else if (k->type == T_STRING || k->type == T_PATH)
        snprintf(buf, n, "%s", (const char *)s + k->offset);
    else
        format_value(k, read_field(s, k), buf, n);
}

/* Parsing one value --------------------------------------------------------*/

static flexcl_code check_model_kind(const char *value, const char *loc,
                                    const char *name)
{
    flexcl_code err = FLEXCL_OK;
    flexcl_supervised_kind sk;
    if (flexcl_model_lookup(value) == NULL &&
        !flexcl_supervised_kind_parse(value, &sk)) {
        char known[256] = "", sup[128] = "";
        const flexcl_model_ops *const *reg = flexcl_model_registry();
        for (size_t i = 0; reg != NULL && reg[i] != NULL; ++i) {
            size_t used = strlen(known);
            snprintf(known + used, sizeof known - used, "%s%s",
                     i ? ", " : "", reg[i]->name);
        }
        for (int k = 0; k < FLEXCL_SUP_KINDS; ++k) {
            size_t used = strlen(sup);
            snprintf(sup + used, sizeof sup - used, "%s%s", k ? ", " : "",
                     flexcl_supervised_kind_name((flexcl_supervised_kind)k));
        }
        char e[ECHO_MAX + 4];
        FLEXCL_FAIL(FLEXCL_ERR_JOB,
                    "%s: %s: '%s' is not a registered model (registered: %s; "
                    "supervised: %s)",
                    loc, name, echo(value, e), known, sup);
    }
done:
    return err;
}

/* model.hidden: "auto" or comma-separated widths in [1, 100000]. */
static flexcl_code check_hidden(const char *value, const char *loc,
                                const char *name)
{
    flexcl_code err = FLEXCL_OK;
    size_t w[FLEXCL_MLP_MAX_LAYERS], n = 0;
    char e[ECHO_MAX + 4];
    if (flexcl_widths_parse(value, w, FLEXCL_MLP_MAX_LAYERS - 1, &n) != FLEXCL_OK) {
        flexcl_error_clear();
        FLEXCL_FAIL(FLEXCL_ERR_JOB,
                    "%s: %s: '%s' is not auto or 1 to %d comma-separated "
                    "widths in [1, 100000]",
                    loc, name, echo(value, e), FLEXCL_MLP_MAX_LAYERS - 1);
    }
done:
    return err;
}

/* The keys named by a grid.zip value "a.b, c.d" into ks[N_KEYS]; *n = 0
 * for an empty value. Every name must be a distinct listable key, and a
 * zip needs at least two. */
static flexcl_code zip_keys(const char *value, const char *loc, size_t *ks,
                            size_t *n)
{
    flexcl_code err = FLEXCL_OK;
    char *name = NULL;
    char e[ECHO_MAX + 4];
    *n = 0;
    if (value[0] == '\0') goto done;
    for (const char *p = value;; ++p) {
        size_t len = strcspn(p, ",");
        name = dup_trimmed(p, len);
        FLEXCL_CHECK(name != NULL, FLEXCL_ERR_NOMEM, "out of memory");
        size_t k = key_by_name(name);
        FLEXCL_CHECK(k < N_KEYS && keys[k].type != T_ZIP, FLEXCL_ERR_JOB,
                     "%s: grid.zip: '%s' is not a key (write section.key)",
                     loc, echo(name, e));
        FLEXCL_CHECK(keys[k].listable, FLEXCL_ERR_JOB,
                     "%s: grid.zip: %s takes a single value and cannot be "
                     "zipped",
                     loc, keys[k].name);
        for (size_t j = 0; j < *n; ++j)
            FLEXCL_CHECK(ks[j] != k, FLEXCL_ERR_JOB,
                         "%s: grid.zip: %s is named twice", loc, keys[k].name);
        ks[(*n)++] = k;
        free(name);
        name = NULL;
        p += len;
        if (*p == '\0') break;
    }
    FLEXCL_CHECK(*n >= 2, FLEXCL_ERR_JOB,
                 "%s: grid.zip: needs at least two keys, not '%s'", loc,
                 echo(value, e));
done:
    free(name);
    return err;
}

static flexcl_code check_zip(const char *value, const char *loc,
                             const char *name)
{
    (void)name;
    size_t ks[N_KEYS], n = 0;
    return zip_keys(value, loc, ks, &n);
}

/* Bound text for a range message: "[1, inf)" and so on. */
static void format_range(const key_def *k, char *buf, size_t n)
{
    char lo[TEXT_MAX] = "-inf", hi[TEXT_MAX] = "inf";
    if (k->bounds & LO) flexcl_error_format_real(k->lo, lo, sizeof lo);
    if (k->bounds & HI) flexcl_error_format_real(k->hi, hi, sizeof hi);
    snprintf(buf, n, "%c%s, %s%c",
             (k->bounds & LO) && !(k->bounds & LO_OPEN) ? '[' : '(', lo, hi,
             (k->bounds & HI) && !(k->bounds & HI_OPEN) ? ']' : ')');
}

/* Fail unless x lies in key k's range; shown is the value as the user sees it. */
static flexcl_code check_range(const key_def *k, double x, const char *shown,
                               const char *loc)
{
    flexcl_code err = FLEXCL_OK;
    int bad = 0;
    if (k->bounds & LO)
        bad |= (k->bounds & LO_OPEN) ? !(x > k->lo) : !(x >= k->lo);
    if (k->bounds & HI)
        bad |= (k->bounds & HI_OPEN) ? !(x < k->hi) : !(x <= k->hi);
    if (bad) {
        char range[2 * TEXT_MAX + 8], e[ECHO_MAX + 4];
        format_range(k, range, sizeof range);
        FLEXCL_FAIL(FLEXCL_ERR_JOB, "%s: %s: %s is outside %s", loc, k->name,
                    echo(shown, e), range);
    }
done:
    return err;
}

/* True when s is an optional sign followed by decimal digits only. */
static int is_integer_text(const char *s, int allow_minus)
{
    if (*s == '+' || (allow_minus && *s == '-')) ++s;
    if (!isdigit((unsigned char)*s)) return 0;
    while (isdigit((unsigned char)*s)) ++s;
    return *s == '\0';
}

/* Read a finite real number; 0 when text is not one. */
static int read_real(const char *text, double *out)
{
    char *end = NULL;
    errno = 0;
    double x = strtod(text, &end);
    if (end == text || *end != '\0' || !isfinite(x)) return 0;
    if (errno == ERANGE && fabs(x) > 1.0) return 0; /* overflow */
    *out = x;
    return 1;
}

/* One scalar element (already trimmed, non-empty) of key k. */
static flexcl_code parse_scalar(const key_def *k, const char *text,
                                const char *loc, num *out)
{
    flexcl_code err = FLEXCL_OK;
    char e[ECHO_MAX + 4];
    switch (k->type) {
    case T_INT: {
        FLEXCL_CHECK(is_integer_text(text, 1), FLEXCL_ERR_JOB,
                     "%s: %s: '%s' is not an integer", loc, k->name,
                     echo(text, e));
        errno = 0;
        long long x = strtoll(text, NULL, 10);
        if (errno == ERANGE) {
            /* Far outside every int range: report it as such. */
            FLEXCL_CALL(check_range(k, x < 0 ? -HUGE_VAL : HUGE_VAL, text, loc));
        }
        FLEXCL_CALL(check_range(k, (double)x, text, loc));
        out->i = x;
        break;
    }
    case T_UINT: {
        FLEXCL_CHECK(is_integer_text(text, 0), FLEXCL_ERR_JOB,
                     "%s: %s: '%s' is not a non-negative integer", loc,
                     k->name, echo(text, e));
        errno = 0;
        unsigned long long x = strtoull(text, NULL, 10);
        unsigned long long max =
            k->size == sizeof(uint64_t) ? UINT64_MAX : UINT32_MAX;
        FLEXCL_CHECK(errno != ERANGE && x <= max, FLEXCL_ERR_JOB,
                     "%s: %s: %s is too large (at most %llu)", loc, k->name,
                     echo(text, e), max);
        FLEXCL_CALL(check_range(k, (double)x, text, loc));
        out->u = x;
        break;
    }
    case T_REAL: {
        double x = 0.0;
        FLEXCL_CHECK(read_real(text, &x), FLEXCL_ERR_JOB,
                     "%s: %s: '%s' is not a real number", loc, k->name,
                     echo(text, e));
        FLEXCL_CALL(check_range(k, x, text, loc));
        out->r = x;
        break;
    }
    case T_BOOL: {
        static const char *const yes[] = {"1", "true", "yes", "on"};
        static const char *const no[] = {"0", "false", "no", "off"};
        int v = -1;
        for (size_t i = 0; i < 4; ++i) {
            if (strcasecmp(text, yes[i]) == 0) v = 1;
            if (strcasecmp(text, no[i]) == 0) v = 0;
        }
        FLEXCL_CHECK(v >= 0, FLEXCL_ERR_JOB,
                     "%s: %s: '%s' is not a boolean (use 1/0, true/false, "
                     "yes/no or on/off)",
                     loc, k->name, echo(text, e));
        out->i = v;
        break;
    }
    case T_ENUM: {
        long long idx = enum_index(k, text);
        FLEXCL_CHECK(idx >= 0, FLEXCL_ERR_JOB, "%s: %s: '%s' is not one of %s",
                     loc, k->name, echo(text, e), k->names);
        out->i = idx;
        break;
    }
    case T_STRING:
    case T_PATH:
    case T_ZIP:
        FLEXCL_FAIL(FLEXCL_ERR_INTERNAL, "%s: %s: not a scalar key", loc,
                    k->name);
    }
done:
    return err;
}

/* A value x generated by linspace/logspace, converted to key k's type. */
static flexcl_code generated_value(const key_def *k, double x,
                                   const char *form, const char *loc,
                                   num *out)
{
    flexcl_code err = FLEXCL_OK;
    char shown[TEXT_MAX], e[ECHO_MAX + 4];
    /* Generated grid values are rounded to 15 significant digits, so that
     * linspace(0.1, 0.9, 9) gives 0.3 rather than 0.30000000000000004: the
     * rounding error of the generator is far below 1e-15 relative, and the
     * value a user would have typed is the one a job should record. */
    {
        char r15[64];
        snprintf(r15, sizeof r15, "%.15g", x);
        x = strtod(r15, NULL);
    }
    flexcl_error_format_real(x, shown, sizeof shown);
    if (k->type == T_REAL) {
        FLEXCL_CALL(check_range(k, x, shown, loc));
        out->r = x;
        goto done;
    }
    double r = nearbyint(x);
    FLEXCL_CHECK(fabs(x - r) <= 1e-9 * fmax(1.0, fabs(x)), FLEXCL_ERR_JOB,
                 "%s: %s: %s gives %s, which is not an integer", loc, k->name,
                 echo(form, e), shown);
    flexcl_error_format_real(r, shown, sizeof shown);
    if (k->type == T_INT) {
        FLEXCL_CALL(check_range(k, r, shown, loc));
        out->i = (long long)r;
    } else {
        FLEXCL_CHECK(r >= 0, FLEXCL_ERR_JOB,
                     "%s: %s: %s gives %s, which is negative", loc, k->name,
                     echo(form, e), shown);
        FLEXCL_CHECK(r < 0x1p63, FLEXCL_ERR_JOB, "%s: %s: %s is too large",
                     loc, k->name, shown);
        FLEXCL_CALL(check_range(k, r, shown, loc));
        out->u = (unsigned long long)r;
    }
done:
    return err;
}

static void slot_clear(slot *s)
{
    free(s->loc);
    free(s->vals);
    free(s->texts);
    free(s->str);
    memset(s, 0, sizeof *s);
}

static flexcl_code slot_alloc(slot *s, size_t n)
{
    flexcl_code err = FLEXCL_OK;
    s->n = n;
    FLEXCL_ALLOC(s->vals, n);
    FLEXCL_ALLOC(s->texts, n);
done:
    return err;
}

/* "linspace(a, b, n)" or "logspace(a, b, n)"; value starts with the name. */
static flexcl_code parse_space(const key_def *k, const char *value, int logs,
                               const char *loc, slot *s)
{
    flexcl_code err = FLEXCL_OK;
    char *args[3] = {NULL, NULL, NULL};
    char e[ECHO_MAX + 4];
    const char *fn = logs ? "logspace" : "linspace";
    const char *open = value + strlen(fn);
    while (is_blank(*open)) ++open;
    size_t len = strlen(value);
    FLEXCL_CHECK(*open == '(' && len > 0 && value[len - 1] == ')',
                 FLEXCL_ERR_JOB, "%s: %s: '%s' is not %s(a, b, n)", loc,
                 k->name, echo(value, e), fn);
    FLEXCL_CHECK(k->type == T_INT || k->type == T_UINT || k->type == T_REAL,
                 FLEXCL_ERR_JOB,
                 "%s: %s: %s needs a numeric key; list the values instead",
                 loc, k->name, fn);
    const char *p = open + 1, *end = value + len - 1;
    for (int i = 0; i < 3; ++i) {
        const char *q = p;
        while (q < end && *q != ',') ++q;
        FLEXCL_CHECK((i < 2) == (q < end), FLEXCL_ERR_JOB,
                     "%s: %s: '%s' needs exactly three arguments: %s(a, b, n)",
                     loc, k->name, echo(value, e), fn);
        args[i] = dup_trimmed(p, (size_t)(q - p));
        FLEXCL_CHECK(args[i] != NULL, FLEXCL_ERR_NOMEM, "out of memory");
        p = q + 1;
    }
    double a = 0, b = 0;
    FLEXCL_CHECK(read_real(args[0], &a), FLEXCL_ERR_JOB,
                 "%s: %s: %s start '%s' is not a real number", loc, k->name,
                 fn, echo(args[0], e));
    FLEXCL_CHECK(read_real(args[1], &b), FLEXCL_ERR_JOB,
                 "%s: %s: %s end '%s' is not a real number", loc, k->name, fn,
                 echo(args[1], e));
    FLEXCL_CHECK(is_integer_text(args[2], 1), FLEXCL_ERR_JOB,
                 "%s: %s: %s count '%s' is not an integer", loc, k->name, fn,
                 echo(args[2], e));
    errno = 0;
    long long n = strtoll(args[2], NULL, 10);
    FLEXCL_CHECK(errno != ERANGE && n >= 1 && n <= LIST_MAX, FLEXCL_ERR_JOB,
                 "%s: %s: %s count %s is outside [1, %d]", loc, k->name, fn,
                 echo(args[2], e), LIST_MAX);
    FLEXCL_CHECK(!logs || (a > 0 && b > 0), FLEXCL_ERR_JOB,
                 "%s: %s: logspace needs a > 0 and b > 0, not '%s'", loc,
                 k->name, echo(value, e));
    FLEXCL_CALL(slot_alloc(s, (size_t)n));
    s->is_list = 1;
    const double la = logs ? log10(a) : 0.0, lb = logs ? log10(b) : 0.0;
    for (long long i = 0; i < n; ++i) {
        double x;
        if (i == 0)
            x = a;
        else if (i == n - 1)
            x = b;
        else if (logs)
            x = pow(10.0, la + ((lb - la) * (double)i) / (double)(n - 1));
        else
            x = a + ((b - a) * (double)i) / (double)(n - 1);
        FLEXCL_CALL(generated_value(k, x, value, loc, &s->vals[i]));
        format_value(k, s->vals[i], s->texts[i], TEXT_MAX);
    }
done:
    for (int i = 0; i < 3; ++i) free(args[i]);
    return err;
}

/* "v1, v2, ..." */
static flexcl_code parse_list(const key_def *k, const char *value,
                              const char *loc, slot *s)
{
    flexcl_code err = FLEXCL_OK;
    char *elem = NULL;
    char e[ECHO_MAX + 4];
    size_t n = 1;
    for (const char *p = value; *p; ++p) n += *p == ',';
    FLEXCL_CALL(slot_alloc(s, n));
    s->is_list = 1;
    const char *p = value;
    for (size_t i = 0; i < n; ++i) {
        size_t len = strcspn(p, ",");
        elem = dup_trimmed(p, len);
        FLEXCL_CHECK(elem != NULL, FLEXCL_ERR_NOMEM, "out of memory");
        FLEXCL_CHECK(elem[0] != '\0', FLEXCL_ERR_JOB,
                     "%s: %s: empty element %zu in the list '%s'", loc,
                     k->name, i + 1, echo(value, e));
        FLEXCL_CALL(parse_scalar(k, elem, loc, &s->vals[i]));
        format_value(k, s->vals[i], s->texts[i], TEXT_MAX);
        free(elem);
        elem = NULL;
        p += len + 1;
    }
done:
    free(elem);
    return err;
}

static int starts_call(const char *value, const char *fn)
{
    size_t n = strlen(fn);
    if (strncmp(value, fn, n) != 0) return 0;
    value += n;
    while (is_blank(*value)) ++value;
    return *value == '(';
}

/* Parse the (trimmed) value of key k into s. */
static flexcl_code parse_value(const key_def *k, const char *value,
                               const char *loc, slot *s)
{
    flexcl_code err = FLEXCL_OK;
    if (value[0] == '\0' && !k->allow_empty)
        FLEXCL_FAIL(FLEXCL_ERR_JOB, "%s: %s: empty value", loc, k->name);
    if (k->type == T_STRING || k->type == T_PATH || k->type == T_ZIP) {
        size_t len = strlen(value);
        FLEXCL_CHECK(len < k->size || k->type == T_ZIP, FLEXCL_ERR_JOB,
                     "%s: %s: value is %zu characters long; at most %zu "
                     "are allowed",
                     loc, k->name, len, k->size - 1);
        if (k->check) FLEXCL_CALL(k->check(value, loc, k->name));
        s->str = malloc(len + 1);
        FLEXCL_CHECK(s->str != NULL, FLEXCL_ERR_NOMEM, "out of memory");
        memcpy(s->str, value, len + 1);
        s->n = 1;
        goto done;
    }
    int lin = starts_call(value, "linspace"), logs = starts_call(value, "logspace");
    int list = lin || logs || strchr(value, ',') != NULL;
    char e[ECHO_MAX + 4];
    FLEXCL_CHECK(!list || k->listable, FLEXCL_ERR_JOB,
                 "%s: %s: takes a single value, not the list '%s'", loc,
                 k->name, echo(value, e));
    if (lin || logs) {
        FLEXCL_CALL(parse_space(k, value, logs, loc, s));
    } else if (list) {
        FLEXCL_CALL(parse_list(k, value, loc, s));
    } else {
        FLEXCL_CALL(slot_alloc(s, 1));
        FLEXCL_CALL(parse_scalar(k, value, loc, &s->vals[0]));
        format_value(k, s->vals[0], s->texts[0], TEXT_MAX);
    }
done:
    return err;
}

/* How a message at place `here` ("FILE:LINE") names an earlier place
 * `there`: "line N" in the same file, else "FILE:LINE" (an include). */
static const char *earlier_place(const char *here, const char *there,
                                 char *buf, size_t n)
{
    if (there == NULL) return "an earlier line";
    if (strcmp(here, there) == 0)
        return "this very line: its file is included more than once";
    const char *h = strrchr(here, ':'), *t = strrchr(there, ':');
    if (h != NULL && t != NULL && h - here == t - there &&
        strncmp(here, there, (size_t)(h - here)) == 0) {
        snprintf(buf, n, "line %s", t + 1);
        return buf;
    }
    return there;
}

/* Set key k of slots (the job's base or a sub-grid's) from value (trimmed)
 * at loc; line > 0 for the job file, where a second assignment is an error,
 * 0 for an override, which replaces. Takes ownership of loc in every case. */
static flexcl_code assign(flexcl_job *job, slot *slots, size_t k,
                          const char *value, char *loc, int line)
{
    flexcl_code err = FLEXCL_OK;
    slot fresh = {0};
    char where[ECHO_MAX + 32];
    fresh.loc = loc;
    fresh.line = line;
    slot *old = &slots[k];
    if (line > 0 && old->order != 0)
        FLEXCL_FAIL(FLEXCL_ERR_JOB, "%s: %s: duplicated key (first set at %s)",
                    loc, keys[k].name, earlier_place(loc, old->loc, where, sizeof where));
    FLEXCL_CALL(parse_value(&keys[k], value, loc, &fresh));
    fresh.order = old->order ? old->order : ++job->n_set;
    slot_clear(old);
    *old = fresh;
    fresh = (slot){0};
done:
    slot_clear(&fresh);
    return err;
}

/* Reading the job text with inih -------------------------------------------*/

/* Where one line handed to inih came from: inih reports a syntax error by
 * its own count of lines, which includes and marker lines shift. */
typedef struct {
    const char *file;
    int line;
} line_origin;

typedef struct {
    flexcl_job *job;
    const char *text;
    size_t len, pos;
    const char *file;    /* file of the current line (see ;@flexcl:at) */
    int lineno;          /* line of the last line handed to inih, in file */
    const char *raw;     /* that raw line as written */
    const char *line;    /* that line without leading and trailing blanks */
    size_t line_len;
    flexcl_code err;     /* first error found by reader or handler */
    size_t err_index;    /* inih's count of lines at that error */
    /* The section of the current line when it is a sub-grid: its index in
     * job->grids, else SIZE_MAX. Tracked here rather than taken from inih,
     * which cuts section names at 49 bytes. */
    size_t sub;
    char **files;        /* file names of ;@flexcl:at markers (owned) */
    size_t n_files;
    line_origin *origin; /* per line handed to inih */
    size_t n_fed, cap_fed;
} parse_state;

/* Prefix of the comment lines that flexcl_job_read writes around includes. */
static const char MARKER[] = ";@flexcl:";
enum { MARKER_LEN = sizeof MARKER - 1 };

/* True when name is a valid sub-grid NAME: [A-Za-z0-9_-]+. */
static int is_subgrid_name(const char *name)
{
    if (name[0] == '\0') return 0;
    for (const char *p = name; *p; ++p)
        if (!isalnum((unsigned char)*p) && *p != '_' && *p != '-') return 0;
    return 1;
}

/* A "[grid.NAME]" line: check NAME and start a new sub-grid. */
static flexcl_code start_subgrid(parse_state *st, const char *name)
{
    flexcl_code err = FLEXCL_OK;
    flexcl_job *job = st->job;
    const char *file = st->file;
    char e[ECHO_MAX + 4], where[ECHO_MAX + 32], file_line[ECHO_MAX + 32];
    snprintf(file_line, sizeof file_line, "%s:%d", file, st->lineno);
    FLEXCL_CHECK(name[0] != '\0', FLEXCL_ERR_JOB,
                 "%s:%d: [grid.]: empty sub-grid name (write [grid.NAME], "
                 "NAME of letters, digits, '_' and '-')",
                 file, st->lineno);
    FLEXCL_CHECK(is_subgrid_name(name), FLEXCL_ERR_JOB,
                 "%s:%d: [grid.%s]: a sub-grid name may only hold letters, "
                 "digits, '_' and '-'",
                 file, st->lineno, echo(name, e));
    for (size_t g = 0; g < job->n_grids; ++g)
        FLEXCL_CHECK(strcmp(job->grids[g].name, name) != 0, FLEXCL_ERR_JOB,
                     "%s:%d: [grid.%s]: duplicate sub-grid name (first at "
                     "%s)",
                     file, st->lineno, echo(name, e),
                     earlier_place(file_line, job->grids[g].loc, where,
                                   sizeof where));
    grid *more = realloc(job->grids, (job->n_grids + 1) * sizeof *more);
    FLEXCL_CHECK(more != NULL, FLEXCL_ERR_NOMEM, "out of memory");
    job->grids = more;
    grid *g = &job->grids[job->n_grids];
    memset(g, 0, sizeof *g);
    job->n_grids++;
    job->n_subgrids++;
    g->line = st->lineno;
    g->name = dup_printf("%s", name);
    g->loc = dup_printf("%s:%d", file, st->lineno);
    FLEXCL_CHECK(g->name != NULL && g->loc != NULL, FLEXCL_ERR_NOMEM,
                 "out of memory");
    st->sub = job->n_grids - 1;
done:
    return err;
}

/* Check a "[section]" line (content without leading whitespace). A line with
 * no ']' is left to inih, which reports it as a syntax error. */
static flexcl_code check_section_line(parse_state *st, const char *p,
                                      size_t len)
{
    flexcl_code err = FLEXCL_OK;
    char *name = NULL;
    const char *rb = memchr(p, ']', len);
    if (rb == NULL) goto done;
    name = dup_trimmed(p + 1, (size_t)(rb - p - 1));
    FLEXCL_CHECK(name != NULL, FLEXCL_ERR_NOMEM, "out of memory");
    const char *rest = rb + 1, *end = p + len;
    while (rest < end && is_blank(*rest)) ++rest;
    char e[ECHO_MAX + 4];
    FLEXCL_CHECK(rest == end || *rest == ';' || *rest == '#', FLEXCL_ERR_JOB,
                 "%s:%d: unexpected text after [%s]", st->file, st->lineno,
                 echo(name, e));
    if (strncmp(name, "grid.", 5) == 0) {
        FLEXCL_CALL(start_subgrid(st, name + 5));
        goto done;
    }
    FLEXCL_CHECK(section_index(name) != SIZE_MAX, FLEXCL_ERR_JOB,
                 "%s:%d: unknown section [%s] (sections: [run], [data], "
                 "[model], [estimator], [optim], [theta0], [tcl], [grid] and "
                 "[grid.NAME])",
                 st->file, st->lineno, echo(name, e));
    st->sub = SIZE_MAX;
done:
    free(name);
    return err;
}

/* Offset of the first byte of [p, p + len) that is not well-formed UTF-8
 * (RFC 3629: no overlong forms, no surrogates, nothing above U+10FFFF) or is
 * a control character other than tab; len when there is none. */
static size_t bad_text_at(const char *p, size_t len)
{
    const unsigned char *s = (const unsigned char *)p;
    size_t i = 0;
    while (i < len) {
        const size_t n = utf8_length(s + i, len - i);
        if (n == 0 || (n == 1 && ((s[i] < 0x20 && s[i] != '\t') || s[i] == 0x7f)))
            return i;
        i += n;
    }
    return len;
}

/* Remember a file name of a marker for the rest of the parse. */
static const char *keep_file_name(parse_state *st, const char *p, size_t n)
{
    char **more = realloc(st->files, (st->n_files + 1) * sizeof *more);
    if (more == NULL) return NULL;
    st->files = more;
    char *name = dup_trimmed(p, n);
    if (name == NULL) return NULL;
    st->files[st->n_files++] = name;
    return name;
}

/* A ";@flexcl:" line (p after the prefix, n bytes). Writes what inih gets
 * for it into str: a comment, or the section header to return to. */
static flexcl_code handle_marker(parse_state *st, const char *p, size_t n,
                                 char *str, int num)
{
    flexcl_code err = FLEXCL_OK;
    char *arg = NULL;
    char e[ECHO_MAX + 4];
    snprintf(str, (size_t)num, ";\n");
    if (n >= 3 && memcmp(p, "at ", 3) == 0) {
        /* "at LINE FILE": the next line is LINE of FILE. */
        const char *q = p + 3, *end = p + n;
        long long line = 0;
        while (q < end && *q == ' ') ++q;
        const char *digits = q;
        while (q < end && isdigit((unsigned char)*q) && line < INT_MAX)
            line = line * 10 + (*q++ - '0');
        FLEXCL_CHECK(q > digits && q < end && *q == ' ' && line >= 1 &&
                         line < INT_MAX,
                     FLEXCL_ERR_JOB,
                     "%s:%d: malformed marker line (expected %sat LINE FILE)",
                     st->file, st->lineno, MARKER);
        const char *name = keep_file_name(st, q + 1, (size_t)(end - q - 1));
        FLEXCL_CHECK(name != NULL, FLEXCL_ERR_NOMEM, "out of memory");
        FLEXCL_CHECK(name[0] != '\0', FLEXCL_ERR_JOB,
                     "%s:%d: malformed marker line (expected %sat LINE FILE)",
                     st->file, st->lineno, MARKER);
        st->file = name;
        st->lineno = (int)line - 1;
    } else if (n >= 7 && memcmp(p, "section", 7) == 0 &&
               (n == 7 || is_blank(p[7]))) {
        /* "section NAME": NAME (maybe empty) is in force again. */
        arg = dup_trimmed(p + 7, n - 7);
        FLEXCL_CHECK(arg != NULL, FLEXCL_ERR_NOMEM, "out of memory");
        size_t sub = SIZE_MAX;
        if (strncmp(arg, "grid.", 5) == 0) {
            for (size_t g = 0; g < st->job->n_grids && sub == SIZE_MAX; ++g)
                if (strcmp(st->job->grids[g].name, arg + 5) == 0) sub = g;
            FLEXCL_CHECK(sub != SIZE_MAX, FLEXCL_ERR_JOB,
                         "%s:%d: marker line names [%s], which is not an "
                         "earlier sub-grid",
                         st->file, st->lineno, echo(arg, e));
        } else {
            FLEXCL_CHECK(arg[0] == '\0' || section_index(arg) != SIZE_MAX,
                         FLEXCL_ERR_JOB,
                         "%s:%d: marker line names unknown section [%s]",
                         st->file, st->lineno, echo(arg, e));
        }
        st->sub = sub;
        /* inih learns the section from a header line; the name is known
         * to be short unless it is a sub-grid, which is routed by st->sub. */
        snprintf(str, (size_t)num, "[%.*s]\n", num > 4 ? num - 4 : 0, arg);
    } else if (n >= 8 && memcmp(p, "include ", 8) == 0) {
        /* The directive an include replaced; a comment. */
    } else {
        arg = dup_trimmed(p, n);
        FLEXCL_CHECK(arg != NULL, FLEXCL_ERR_NOMEM, "out of memory");
        FLEXCL_FAIL(FLEXCL_ERR_JOB,
                    "%s:%d: unknown marker line '%s%s' (lines starting with "
                    "%s are written by flexcl)",
                    st->file, st->lineno, MARKER, echo(arg, e), MARKER);
    }
done:
    free(arg);
    return err;
}

/* Record where the line about to be handed to inih came from. */
static int note_origin(parse_state *st)
{
    if (st->n_fed == st->cap_fed) {
        size_t cap = st->cap_fed ? 2 * st->cap_fed : 256;
        line_origin *more = realloc(st->origin, cap * sizeof *more);
        if (more == NULL) return 0;
        st->origin = more;
        st->cap_fed = cap;
    }
    st->origin[st->n_fed++] = (line_origin){st->file, st->lineno};
    return 1;
}

/* The checks of one raw line before inih sees it (p, len: without leading
 * and trailing blanks). May rewrite str (markers). */
static flexcl_code check_line(parse_state *st, const char *p, size_t len,
                              char *str, int num, int *replaced)
{
    flexcl_code err = FLEXCL_OK;
    char e[ECHO_MAX + 4];
    *replaced = 0;
    const size_t bad = bad_text_at(p, len);
    if (bad < len) {
        const unsigned char c = (unsigned char)p[bad];
        const size_t col = bad + 1 + (size_t)(p - st->raw);
        if (c < 0x80)
            FLEXCL_FAIL(FLEXCL_ERR_JOB,
                        "%s:%d: control character 0x%02x at column %zu (a job "
                        "file is text)",
                        st->file, st->lineno, c, col);
        FLEXCL_FAIL(FLEXCL_ERR_JOB,
                    "%s:%d: byte 0x%02x at column %zu is not UTF-8 (a job "
                    "file is UTF-8 text)",
                    st->file, st->lineno, c, col);
    }
    if (len >= MARKER_LEN && memcmp(p, MARKER, MARKER_LEN) == 0) {
        FLEXCL_CALL(handle_marker(st, p + MARKER_LEN, len - MARKER_LEN, str,
                                  num));
        *replaced = 1;
        goto done;
    }
    if (len >= 8 && memcmp(p, "@include", 8) == 0 &&
        (len == 8 || is_blank(p[8]))) {
        char *copy = dup_trimmed(p, len);
        FLEXCL_CHECK(copy != NULL, FLEXCL_ERR_NOMEM, "out of memory");
        err = flexcl_error_set(
            FLEXCL_ERR_JOB, __FILE__, __LINE__, __func__,
            "%s:%d: '%s': includes are expanded when a job file is read "
            "(flexcl_job_read, flexcl_job_load), not in job text",
            st->file, st->lineno, echo(copy, e));
        free(copy);
        goto done;
    }
    if (len > 0 && *p == '[') FLEXCL_CALL(check_section_line(st, p, len));
done:
    return err;
}

/* ini_reader: hand inih one line per call, like fgets, and remember it. */
static char *read_line(char *str, int num, void *stream)
{
    parse_state *st = stream;
    if (st->err != FLEXCL_OK || st->pos >= st->len || num < 8) return NULL;
    const char *p = st->text + st->pos;
    const char *nl = memchr(p, '\n', st->len - st->pos);
    size_t len = nl ? (size_t)(nl - p) : st->len - st->pos;
    if (st->pos == 0 && len >= 3 && memcmp(p, "\xEF\xBB\xBF", 3) == 0)
        p += 3, len -= 3; /* UTF-8 byte order mark */
    st->pos += (size_t)(p - (st->text + st->pos)) + len + (nl != NULL);
    if (st->lineno < INT_MAX) st->lineno++;
    st->raw = p;
    while (len > 0 && is_blank(p[len - 1])) --len;
    /* No leading whitespace: inih would read an indented line as the
     * continuation of the previous value. */
    while (len > 0 && is_blank(*p)) ++p, --len;
    st->line = p;
    st->line_len = len;
    if (!note_origin(st)) {
        st->err = flexcl_error_set(FLEXCL_ERR_NOMEM, __FILE__, __LINE__,
                                   __func__, "out of memory");
        return NULL;
    }
    int replaced = 0;
    flexcl_code e = check_line(st, p, len, str, num, &replaced);
    if (e != FLEXCL_OK) {
        st->err = e;
        st->err_index = st->n_fed;
        return NULL;
    }
    if (replaced) return str;
    /* At most num - 2 bytes plus '\n' fit; the handler re-reads the value
     * of a longer line from st->line. */
    size_t copy = len < (size_t)num - 2 ? len : (size_t)num - 2;
    memcpy(str, p, copy);
    str[copy] = '\n';
    str[copy + 1] = '\0';
    return str;
}

/* The value of the current key line, read from the raw line: after the first
 * '=' or ':' (where inih splits), up to a ';' or '#' that follows
 * whitespace, trimmed. */
static char *raw_value(const parse_state *st)
{
    const char *p = st->line, *end = st->line + st->line_len;
    while (p < end && *p != '=' && *p != ':') ++p;
    if (p < end) ++p;
    const char *q = p;
    for (; q < end; ++q)
        if ((*q == ';' || *q == '#') && q > p && is_blank(q[-1])) break;
    return dup_trimmed(p, (size_t)(q - p));
}

/* The key name of the current key line, read from the raw line (inih cuts
 * names at 49 bytes): up to the first '=' or ':', trimmed. */
static char *raw_name(const parse_state *st)
{
    size_t n = 0;
    while (n < st->line_len && st->line[n] != '=' && st->line[n] != ':') ++n;
    return dup_trimmed(st->line, n);
}

/* A "section.key = value" line (or "zip = a.b, c.d") in sub-grid g. */
static flexcl_code handle_subgrid_key(parse_state *st, grid *g)
{
    flexcl_code err = FLEXCL_OK;
    char *name = NULL, *value = NULL, *loc = NULL;
    const char *file = st->file;
    char e[ECHO_MAX + 4];
    name = raw_name(st);
    FLEXCL_CHECK(name != NULL, FLEXCL_ERR_NOMEM, "out of memory");
    FLEXCL_CHECK(name[0] != '\0', FLEXCL_ERR_JOB,
                 "%s:%d: missing key name before '='", file, st->lineno);
    size_t k = N_KEYS;
    if (strcmp(name, "zip") == 0) {
        k = key_by_name("grid.zip");
    } else {
        char *dot = strchr(name, '.');
        FLEXCL_CHECK(dot != NULL && dot != name && dot[1] != '\0',
                     FLEXCL_ERR_JOB,
                     "%s:%d: %s: keys in [grid.%s] are written section.key "
                     "(e.g. estimator.b = 0.1, 0.9)",
                     file, st->lineno, echo(name, e), g->name);
        k = key_by_name(name);
        FLEXCL_CHECK(k < N_KEYS, FLEXCL_ERR_JOB,
                     "%s:%d: unknown key %s in [grid.%s]", file, st->lineno,
                     echo(name, e), g->name);
        FLEXCL_CHECK(strcmp(keys[k].name, "run.max_points") != 0,
                     FLEXCL_ERR_JOB,
                     "%s:%d: run.max_points: limits the whole job; set it "
                     "in [run], not in [grid.%s]",
                     file, st->lineno, g->name);
    }
    value = raw_value(st);
    loc = dup_printf("%s:%d", file, st->lineno);
    FLEXCL_CHECK(value != NULL && loc != NULL, FLEXCL_ERR_NOMEM,
                 "out of memory");
    char *owned = loc;
    loc = NULL;
    FLEXCL_CALL(assign(st->job, g->slots, k, value, owned, st->lineno));
done:
    free(name);
    free(value);
    free(loc);
    return err;
}

static flexcl_code handle_key(parse_state *st, const char *section,
                              const char *name)
{
    if (st->sub != SIZE_MAX)
        return handle_subgrid_key(st, &st->job->grids[st->sub]);

    flexcl_code err = FLEXCL_OK;
    char *sec = NULL, *value = NULL, *loc = NULL, *key = NULL;
    const char *file = st->file;
    char e[ECHO_MAX + 4];
    sec = dup_trimmed(section, strlen(section));
    /* inih cuts names at 49 bytes: re-read the name from the raw line. */
    key = raw_name(st);
    FLEXCL_CHECK(sec != NULL && key != NULL, FLEXCL_ERR_NOMEM, "out of memory");
    (void)name;
    FLEXCL_CHECK(key[0] != '\0', FLEXCL_ERR_JOB,
                 "%s:%d: missing key name before '='", file, st->lineno);
    FLEXCL_CHECK(sec[0] != '\0', FLEXCL_ERR_JOB,
                 "%s:%d: key %s is outside any section (put it under [run], "
                 "[data], [model], [estimator], [optim], [theta0] or [tcl])",
                 file, st->lineno, echo(key, e));
    size_t k = key_index(sec, key);
    FLEXCL_CHECK(k < N_KEYS, FLEXCL_ERR_JOB, "%s:%d: unknown key %s.%s", file,
                 st->lineno, sec, echo(key, e));
    value = raw_value(st);
    loc = dup_printf("%s:%d", file, st->lineno);
    FLEXCL_CHECK(value != NULL && loc != NULL, FLEXCL_ERR_NOMEM,
                 "out of memory");
    char *owned = loc;
    loc = NULL;
    FLEXCL_CALL(assign(st->job, st->job->slots, k, value, owned, st->lineno));
done:
    free(sec);
    free(key);
    free(value);
    free(loc);
    return err;
}

/* ini_handler: one key = value line. */
static int on_key(void *user, const char *section, const char *name,
                  const char *value)
{
    (void)value; /* re-read from the raw line, see raw_value */
    parse_state *st = user;
    if (st->err != FLEXCL_OK) return 0;
    flexcl_code e = handle_key(st, section, name);
    if (e != FLEXCL_OK) {
        st->err = e;
        st->err_index = st->n_fed;
        return 0;
    }
    return 1;
}

static flexcl_code parse_text(flexcl_job *job)
{
    flexcl_code err = FLEXCL_OK;
    parse_state st = {.job = job, .text = job->text, .len = strlen(job->text),
                      .file = job->filename, .sub = SIZE_MAX};
    int r = ini_parse_stream(read_line, &st, on_key, &st);
    FLEXCL_CHECK(r >= 0, r == -2 ? FLEXCL_ERR_NOMEM : FLEXCL_ERR_INTERNAL,
                 "%s: inih failed with code %d", job->filename, r);
    /* inih reports the first line it could not parse (or whose handler
     * failed) by its count of lines; keep whichever error comes first. */
    if (r > 0 && (st.err == FLEXCL_OK || (size_t)r < st.err_index)) {
        const line_origin o = (size_t)r <= st.n_fed
                                  ? st.origin[r - 1]
                                  : (line_origin){job->filename, r};
        FLEXCL_FAIL(FLEXCL_ERR_JOB,
                    "%s:%d: INI syntax error: expected [section], key = value "
                    "or a comment",
                    o.file, o.line);
    }
    if (st.err != FLEXCL_OK) FLEXCL_CALL(st.err);
done:
    for (size_t i = 0; i < st.n_files; ++i) free(st.files[i]);
    free(st.files);
    free(st.origin);
    return err;
}

/* Overrides ----------------------------------------------------------------*/

static flexcl_code apply_override(flexcl_job *job, const char *text)
{
    flexcl_code err = FLEXCL_OK;
    char *name = NULL, *value = NULL, *loc = NULL;
    char e[ECHO_MAX + 4];
    FLEXCL_CHECK(text != NULL, FLEXCL_ERR_ARG, "override is NULL");
    loc = dup_printf("--set %s", echo(text, e));
    FLEXCL_CHECK(loc != NULL, FLEXCL_ERR_NOMEM, "out of memory");
    {
        const size_t len = strlen(text), bad = bad_text_at(text, len);
        FLEXCL_CHECK(bad == len, FLEXCL_ERR_JOB,
                     "%s: byte 0x%02x at position %zu is not UTF-8 text", loc,
                     (unsigned)(unsigned char)text[bad], bad + 1);
    }
    const char *eq = strchr(text, '=');
    FLEXCL_CHECK(eq != NULL, FLEXCL_ERR_JOB,
                 "%s: expected section.key=value", loc);
    name = dup_trimmed(text, (size_t)(eq - text));
    value = dup_trimmed(eq + 1, strlen(eq + 1));
    FLEXCL_CHECK(name != NULL && value != NULL, FLEXCL_ERR_NOMEM,
                 "out of memory");
    char *dot = strchr(name, '.');
    FLEXCL_CHECK(dot != NULL && dot != name && dot[1] != '\0', FLEXCL_ERR_JOB,
                 "%s: expected section.key=value", loc);
    *dot = '\0';
    FLEXCL_CHECK(section_index(name) != SIZE_MAX, FLEXCL_ERR_JOB,
                 "%s: unknown section [%s]", loc, name);
    size_t k = key_index(name, dot + 1);
    FLEXCL_CHECK(k < N_KEYS, FLEXCL_ERR_JOB, "%s: unknown key %s.%s", loc,
                 name, dot + 1);
    char *owned = loc;
    loc = NULL;
    FLEXCL_CALL(assign(job, job->slots, k, value, owned, 0));
    /* An override replaces the key everywhere: base and every sub-grid. */
    for (size_t g = 0; g < job->n_grids; ++g) slot_clear(&job->grids[g].slots[k]);
done:
    free(name);
    free(value);
    free(loc);
    return err;
}

/* The grid -----------------------------------------------------------------*/

/* Place of key k among the axes of grid g. A key the base lists keeps the
 * base's place even when a sub-grid lists it again (it replaces the list);
 * any other key in force from a sub-grid is new there and comes after
 * every base key, in the order of the sub-grid's lines. */
static long long axis_rank(const flexcl_job *job, const grid *g, size_t k)
{
    const slot *base = &job->slots[k];
    if (g->eff[k] == base || base->is_list) return base->order;
    return (long long)INT_MAX + g->eff[k]->order;
}

/* " in [grid.NAME]" when a message about sub-grid g names a place outside
 * the sub-grid (sl is not one of g's own slots), else "". */
static const char *in_grid(const grid *g, const slot *sl, char *buf, size_t n)
{
    buf[0] = '\0';
    if (g->name[0] != '\0' && !(sl >= g->slots && sl < g->slots + N_KEYS))
        snprintf(buf, n, " in [grid.%s]", g->name);
    return buf;
}

/* Where a cross-key error is reported: the sub-grid's own assignment of
 * key a, else of key b (a sub-grid that breaks a rule is named at its
 * line), else key a's assignment, else key b's, else the sub-grid, else the
 * file. */
static const char *loc_of(const flexcl_job *job, const grid *g, size_t a,
                          size_t b)
{
    if (g->slots[a].loc) return g->slots[a].loc;
    if (g->slots[b].loc) return g->slots[b].loc;
    if (g->eff[a]->loc) return g->eff[a]->loc;
    if (g->eff[b]->loc) return g->eff[b]->loc;
    return g->loc ? g->loc : job->filename;
}

/* " at grid point P (axis=value, ...)", with " in [grid.NAME]" after P for a
 * sub-grid; "" for a job without sub-grids and axes. */
static void describe_point(const grid *g, const size_t *idx, size_t point,
                           char *buf, size_t n)
{
    buf[0] = '\0';
    if (g->n_axes == 0 && g->name[0] == '\0') return;
    size_t used = (size_t)snprintf(buf, n, " at grid point %zu", point);
    if (g->name[0] != '\0' && used < n)
        used += (size_t)snprintf(buf + used, n - used, " in [grid.%s]", g->name);
    for (size_t a = 0; a < g->n_axes && used < n; ++a) {
        const size_t k = g->axes[a];
        used += (size_t)snprintf(buf + used, n - used, "%s%s=%s",
                                 a ? ", " : " (", keys[k].name,
                                 g->eff[k]->texts[idx[a]]);
    }
    if (g->n_axes > 0 && used < n) snprintf(buf + used, n - used, ")");
}

/* The rules of section [tcl] at a point that uses it (estimator.kind = tcl
 * or run.experiment = tcl_synapse). */
static flexcl_code check_tcl(const flexcl_job *job, const grid *g, const flexcl_settings *s,
                             const size_t *idx, size_t point)
{
    flexcl_code err = FLEXCL_OK;
    char where[WHERE_MAX], a[TEXT_MAX], b[TEXT_MAX];
    const flexcl_tcl_settings *t = &s->estimator.tcl;
    const char *const ramp[2] = {"tcl.tau_fast", "tcl.tau_slow"};
    const double len[2] = {t->tau_fast, t->tau_slow};
    for (int r = 0; r < 2; ++r) {
        double q = len[r] / t->dt, n = nearbyint(q);
        if (n >= 1.0 && n <= 1e9 && fabs(q - n) <= 1e-9 * n) continue;
        describe_point(g, idx, point, where, sizeof where);
        flexcl_error_format_real(len[r], a, sizeof a);
        flexcl_error_format_real(t->dt, b, sizeof b);
        FLEXCL_FAIL(FLEXCL_ERR_JOB,
                    "%s: %s: %s is not a whole multiple (1 to 1e9) of tcl.dt = %s%s",
                    loc_of(job, g, key_by_name(ramp[r]), key_by_name("tcl.dt")), ramp[r], a, b,
                    where);
    }
    if (t->kernel == FLEXCL_TCL_FEEDBACK && t->dt > t->tau_kernel) {
        describe_point(g, idx, point, where, sizeof where);
        flexcl_error_format_real(t->dt, a, sizeof a);
        flexcl_error_format_real(t->tau_kernel, b, sizeof b);
        FLEXCL_FAIL(FLEXCL_ERR_JOB,
                    "%s: tcl.dt: %s exceeds tcl.tau_kernel = %s (the feedback kernel's Euler "
                    "step needs dt <= tau_kernel)%s",
                    loc_of(job, g, key_by_name("tcl.dt"), key_by_name("tcl.tau_kernel")), a, b,
                    where);
    }
    if (s->run.experiment == FLEXCL_EXP_TCL_SYNAPSE && !(t->amp_lo < t->amp_hi)) {
        describe_point(g, idx, point, where, sizeof where);
        flexcl_error_format_real(t->amp_lo, a, sizeof a);
        flexcl_error_format_real(t->amp_hi, b, sizeof b);
        FLEXCL_FAIL(FLEXCL_ERR_JOB, "%s: tcl.amp_lo: %s is not below tcl.amp_hi = %s%s",
                    loc_of(job, g, key_by_name("tcl.amp_lo"), key_by_name("tcl.amp_hi")), a, b,
                    where);
    }
    if (s->run.experiment == FLEXCL_EXP_TRAIN && s->estimator.kind == FLEXCL_EST_TCL) {
        const flexcl_model_ops *ops = flexcl_model_lookup(s->model.kind);
        if (ops == NULL || ops->nudge == NULL) {
            describe_point(g, idx, point, where, sizeof where);
            FLEXCL_FAIL(FLEXCL_ERR_JOB,
                        "%s: estimator.kind: tcl needs a model with graded clamping (the "
                        "nudge operation); model.kind = %s has none%s",
                        loc_of(job, g, key_by_name("estimator.kind"), key_by_name("model.kind")),
                        s->model.kind, where);
        }
    }
done:
    return err;
}

/* The rules that involve more than one key, for one grid point. */
static flexcl_code check_point(const flexcl_job *job, const grid *g,
                               const flexcl_settings *s, const size_t *idx,
                               size_t point)
{
    flexcl_code err = FLEXCL_OK;
    char where[WHERE_MAX], tau[TEXT_MAX];
    const flexcl_estimator_settings *es = &s->estimator;
    if (es->law == FLEXCL_LAW_UNIFORM && !((double)es->uniform_halfwidth < es->tau)) {
        describe_point(g, idx, point, where, sizeof where);
        flexcl_error_format_real(es->tau, tau, sizeof tau);
        FLEXCL_FAIL(FLEXCL_ERR_JOB,
                    "%s: estimator.uniform_halfwidth: %d is not below "
                    "estimator.tau = %s (required by estimator.law = uniform)%s",
                    loc_of(job, g, key_by_name("estimator.uniform_halfwidth"),
                           key_by_name("estimator.tau")),
                    es->uniform_halfwidth, tau, where);
    }
    if (s->data.label_block && s->data.labels[0] == '\0') {
        describe_point(g, idx, point, where, sizeof where);
        FLEXCL_FAIL(FLEXCL_ERR_JOB,
                    "%s: data.label_block: 1 needs a non-empty data.labels%s",
                    loc_of(job, g, key_by_name("data.label_block"),
                           key_by_name("data.labels")),
                    where);
    }
    /* Counts that may not exceed another key's count. */
    const struct {
        const char *key, *limit_key;
        unsigned long long value, limit;
    } at_most[] = {
        {"run.eval_every", "run.steps", s->run.eval_every, s->run.steps},
        {"run.raw_samples", "run.samples", s->run.raw_samples, s->run.samples},
    };
    for (size_t i = 0; i < sizeof at_most / sizeof at_most[0]; ++i)
        if (at_most[i].value > at_most[i].limit) {
            describe_point(g, idx, point, where, sizeof where);
            FLEXCL_FAIL(FLEXCL_ERR_JOB, "%s: %s: %llu exceeds %s = %llu%s",
                        loc_of(job, g, key_by_name(at_most[i].key),
                               key_by_name(at_most[i].limit_key)),
                        at_most[i].key, at_most[i].value, at_most[i].limit_key,
                        at_most[i].limit, where);
        }
    if (!flexcl_averaging_delay_allowed(s->run.average_delay, s->run.average_every)) {
        describe_point(g, idx, point, where, sizeof where);
        FLEXCL_FAIL(FLEXCL_ERR_JOB,
                    "%s: run.average_delay: %llu exceeds %d x run.average_every = %llu%s",
                    loc_of(job, g, key_by_name("run.average_delay"),
                           key_by_name("run.average_every")),
                    (unsigned long long)s->run.average_delay, FLEXCL_AVERAGING_MAX_PERIODS,
                    (unsigned long long)(FLEXCL_AVERAGING_MAX_PERIODS * s->run.average_every),
                    where);
    }
    flexcl_supervised_kind sk;
    const int sup = flexcl_supervised_kind_parse(s->model.kind, &sk);
    if (!(isfinite(s->model.beta) && s->model.beta != 0.0 && (s->model.beta > 0.0 || !sup))) {
        char be[TEXT_MAX];
        describe_point(g, idx, point, where, sizeof where);
        flexcl_error_format_real(s->model.beta, be, sizeof be);
        FLEXCL_FAIL(FLEXCL_ERR_JOB, "%s: model.beta: %s; %s%s",
                    loc_of(job, g, key_by_name("model.beta"), key_by_name("model.kind")), be,
                    sup ? "dual propagation needs beta > 0" : "the nudging strength must be "
                                                              "non-zero",
                    where);
    }
    const flexcl_model_ops *reg = flexcl_model_lookup(s->model.kind);
    const unsigned needs = reg ? reg->needs : 0u;
    if ((needs & FLEXCL_MODEL_NEEDS_LABELS) && !s->data.label_block) {
        describe_point(g, idx, point, where, sizeof where);
        FLEXCL_FAIL(FLEXCL_ERR_JOB,
                    "%s: data.label_block: model.kind = %s needs the label block (its target); "
                    "set data.label_block = 1%s",
                    loc_of(job, g, key_by_name("data.label_block"), key_by_name("model.kind")),
                    reg->name, where);
    }
    if ((needs & FLEXCL_MODEL_NEEDS_ROW_EVERY_PHASE) && es->kind == FLEXCL_EST_TWO_TERM &&
        es->persistent) {
        describe_point(g, idx, point, where, sizeof where);
        FLEXCL_FAIL(FLEXCL_ERR_JOB,
                    "%s: estimator.persistent: 1 runs the negative phase on a separate chain "
                    "without the example's input, which model.kind = %s needs in both phases: "
                    "use 0%s",
                    loc_of(job, g, key_by_name("estimator.persistent"),
                           key_by_name("model.kind")),
                    reg->name, where);
    }
    if (sup) {
        /* What the kind (or the trainer with it) refuses: its own rules. */
        flexcl_supervised_settings ss = s->supervised;
        ss.kind = sk; /* the settings carry model.kind as text */
        const char *context = NULL;
        char why[256];
        const char *bad = flexcl_supervised_refusal(&ss, es, &context, why, sizeof why);
        if (bad != NULL) {
            describe_point(g, idx, point, where, sizeof where);
            FLEXCL_FAIL(FLEXCL_ERR_JOB, "%s: %s: %s%s",
                        loc_of(job, g, key_by_name(bad), key_by_name(context)), bad, why,
                        where);
        }
    }
    if (es->kind == FLEXCL_EST_TCL || s->run.experiment == FLEXCL_EXP_TCL_SYNAPSE)
        FLEXCL_CALL(check_tcl(job, g, s, idx, point));
    if (s->theta0.source == FLEXCL_THETA0_FILE && s->theta0.file[0] == '\0') {
        describe_point(g, idx, point, where, sizeof where);
        FLEXCL_FAIL(FLEXCL_ERR_JOB,
                    "%s: theta0.source: file needs a non-empty theta0.file%s",
                    loc_of(job, g, key_by_name("theta0.source"),
                           key_by_name("theta0.file")),
                    where);
    }
done:
    return err;
}

/* Group the axes of g: every axis is its own group except the keys of the
 * grid.zip in force, which share one group placed at the first of them. */
static flexcl_code group_axes(grid *g)
{
    flexcl_code err = FLEXCL_OK;
    const size_t zk = key_by_name("grid.zip");
    const slot *zs = g->eff[zk];
    size_t zipped[N_KEYS], n_zipped = 0;
    int in_zip[N_KEYS] = {0};
    char in[ECHO_MAX + 32];
    if (zs->order != 0) FLEXCL_CALL(zip_keys(zs->str, zs->loc, zipped, &n_zipped));
    in_grid(g, zs, in, sizeof in);
    for (size_t j = 0; j < n_zipped; ++j) {
        const size_t k = zipped[j], k0 = zipped[0];
        FLEXCL_CHECK(g->eff[k]->is_list, FLEXCL_ERR_JOB,
                     "%s: grid.zip: %s is not a list (zipped keys must be "
                     "lists of equal length)%s",
                     zs->loc, keys[k].name, in);
        FLEXCL_CHECK(g->eff[k]->n == g->eff[k0]->n, FLEXCL_ERR_JOB,
                     "%s: grid.zip: %s has %zu values but %s has %zu%s",
                     zs->loc, keys[k0].name, g->eff[k0]->n, keys[k].name,
                     g->eff[k]->n, in);
        in_zip[k] = 1;
    }
    size_t zip_group = SIZE_MAX;
    g->n_groups = 0;
    for (size_t a = 0; a < g->n_axes; ++a) {
        const size_t k = g->axes[a];
        if (in_zip[k] && zip_group != SIZE_MAX) {
            g->group[a] = zip_group;
            continue;
        }
        if (in_zip[k]) zip_group = g->n_groups;
        g->group[a] = g->n_groups;
        g->group_len[g->n_groups++] = g->eff[k]->n;
    }
done:
    return err;
}

/* The shape of one grid: slots in force, base settings, axes, groups and
 * point count (at most JOB_MAX_POINTS). */
static flexcl_code shape_grid(flexcl_job *job, grid *g)
{
    flexcl_code err = FLEXCL_OK;
    char in[ECHO_MAX + 32];
    for (size_t k = 0; k < N_KEYS; ++k)
        g->eff[k] = g->slots[k].order != 0 ? &g->slots[k] : &job->slots[k];
    flexcl_settings_default(&g->base);
    for (size_t k = 0; k < N_KEYS; ++k) {
        const slot *sl = g->eff[k];
        if (sl->order == 0 || sl->is_list || keys[k].type == T_ZIP) continue;
        if (keys[k].type == T_STRING || keys[k].type == T_PATH)
            snprintf((char *)&g->base + keys[k].offset, keys[k].size, "%s",
                     sl->str);
        else
            write_field(&g->base, &keys[k], sl->vals[0]);
    }
    /* Axes in order of first appearance (see axis_rank). */
    g->n_axes = 0;
    for (size_t k = 0; k < N_KEYS; ++k) {
        if (!g->eff[k]->is_list) continue;
        const long long r = axis_rank(job, g, k);
        size_t a = g->n_axes++;
        for (; a > 0 && axis_rank(job, g, g->axes[a - 1]) > r; --a)
            g->axes[a] = g->axes[a - 1];
        g->axes[a] = k;
    }
    FLEXCL_CALL(group_axes(g));

    const size_t rk = key_by_name("run.replicates");
    const size_t limit = job->max_points;
    g->replicates = g->base.run.replicates;
    size_t total = (size_t)g->replicates;
    FLEXCL_CHECK(total <= limit, FLEXCL_ERR_JOB,
                 "%s: run.replicates: the grid would have more than %zu points%s; "
                 "the limit is run.max_points",
                 loc_of(job, g, rk, rk), limit,
                 in_grid(g, g->eff[rk], in, sizeof in));
    for (size_t a = 0, gr = 0; a < g->n_axes; ++a) {
        if (g->group[a] != gr) continue; /* a later member of a zip */
        const size_t k = g->axes[a], n = g->group_len[gr++];
        FLEXCL_CHECK(total <= limit / n, FLEXCL_ERR_JOB,
                     "%s: %s: the grid would have more than %zu points%s; "
                     "the limit is run.max_points",
                     g->eff[k]->loc, keys[k].name, limit,
                     in_grid(g, g->eff[k], in, sizeof in));
        total *= n;
    }
    g->n_points = total;
done:
    return err;
}

/* Every point's cross-key rules. The combinations are walked like an
 * odometer over the groups, rewriting only the axes that change, so a
 * million points cost a million cheap checks. */
static flexcl_code validate_grid(const flexcl_job *job, const grid *g)
{
    flexcl_code err = FLEXCL_OK;
    size_t gidx[N_KEYS] = {0}, idx[N_KEYS] = {0};
    flexcl_settings s = g->base;
    for (size_t a = 0; a < g->n_axes; ++a)
        write_field(&s, &keys[g->axes[a]], g->eff[g->axes[a]]->vals[0]);
    const size_t combos = g->n_points / (size_t)g->replicates;
    for (size_t c = 0; c < combos; ++c) {
        if (c > 0) {
            size_t gr = g->n_groups;
            while (gr-- > 0) {
                if (++gidx[gr] == g->group_len[gr]) gidx[gr] = 0;
                for (size_t a = 0; a < g->n_axes; ++a) {
                    if (g->group[a] != gr) continue;
                    idx[a] = gidx[gr];
                    write_field(&s, &keys[g->axes[a]],
                                g->eff[g->axes[a]]->vals[idx[a]]);
                }
                if (gidx[gr] != 0) break;
            }
        }
        FLEXCL_CALL(check_point(job, g, &s, idx,
                                g->first + c * (size_t)g->replicates));
    }
done:
    return err;
}

/* The axes of the job: the union of the grids' axes, base axes first (in
 * the base's order), then the keys that only sub-grids list, in the order
 * of their first list in the file. Each grid learns where every union axis
 * is, or the text of its scalar value. */
static flexcl_code union_axes(flexcl_job *job)
{
    flexcl_code err = FLEXCL_OK;
    long long rank[N_KEYS];
    job->n_axes = 0;
    for (size_t k = 0; k < N_KEYS; ++k) {
        long long best = LLONG_MAX;
        size_t len = 0;
        for (size_t gi = 0; gi < job->n_grids; ++gi) {
            const grid *g = &job->grids[gi];
            if (!g->eff[k]->is_list) continue;
            const long long r = axis_rank(job, g, k);
            if (r < best) best = r;
            if (g->eff[k]->n > len) len = g->eff[k]->n;
        }
        if (best == LLONG_MAX) continue;
        size_t u = job->n_axes++;
        for (; u > 0 && rank[u - 1] > best; --u) {
            job->axes[u] = job->axes[u - 1];
            job->axis_len[u] = job->axis_len[u - 1];
            rank[u] = rank[u - 1];
        }
        job->axes[u] = k;
        job->axis_len[u] = len;
        rank[u] = best;
    }
    for (size_t gi = 0; gi < job->n_grids; ++gi) {
        grid *g = &job->grids[gi];
        FLEXCL_ALLOC(g->scalar, job->n_axes);
        for (size_t u = 0; u < job->n_axes; ++u) {
            g->local[u] = SIZE_MAX;
            for (size_t a = 0; a < g->n_axes; ++a)
                if (g->axes[a] == job->axes[u]) g->local[u] = a;
            format_field(&g->base, &keys[job->axes[u]], g->scalar[u], TEXT_MAX);
        }
    }
done:
    return err;
}

/* Shape every grid (one without sub-grids), check the total point count,
 * then every point of every grid. */
static flexcl_code build_grid(flexcl_job *job)
{
    flexcl_code err = FLEXCL_OK;
    if (job->n_grids == 0) {
        FLEXCL_ALLOC(job->grids, 1);
        job->n_grids = 1;
        job->grids[0].name = dup_printf("%s", "");
        FLEXCL_CHECK(job->grids[0].name != NULL, FLEXCL_ERR_NOMEM,
                     "out of memory");
    }
    const slot *mp = &job->slots[key_by_name("run.max_points")];
    job->max_points = mp->order != 0 ? (size_t)mp->vals[0].u : JOB_MAX_POINTS;
    size_t total = 0;
    for (size_t gi = 0; gi < job->n_grids; ++gi) {
        grid *g = &job->grids[gi];
        FLEXCL_CALL(shape_grid(job, g));
        FLEXCL_CHECK(g->n_points <= job->max_points - total, FLEXCL_ERR_JOB,
                     "%s: grid.%s: the sub-grids would have more than %zu "
                     "points in total (%zu before [grid.%s], %zu in it); the "
                     "limit is run.max_points",
                     g->loc, g->name, job->max_points, total, g->name,
                     g->n_points);
        g->first = total;
        total += g->n_points;
    }
    job->n_points = total;
    for (size_t gi = 0; gi < job->n_grids; ++gi)
        FLEXCL_CALL(validate_grid(job, &job->grids[gi]));
    FLEXCL_CALL(union_axes(job));
done:
    return err;
}

/* Public API ---------------------------------------------------------------*/

void flexcl_settings_default(flexcl_settings *s)
{
    if (s == NULL) return;
    memset(s, 0, sizeof *s);
    s->run = (flexcl_run_settings){
        .experiment = FLEXCL_EXP_TRAIN,
        .seed = 1,
        .steps = 400000,
        .eval_every = 20000,
        .replicates = 1,
        .learners_per_rank = 1,
        .average_every = 0,
        .averaging = FLEXCL_AVERAGING_BLOCKING,
        .streams = FLEXCL_STREAMS_POINT,
        .same_init = 1,
        .threads = 0,
        .samples = 20000,
        .raw_samples = 1000,
        .sample_compression = FLEXCL_COMPRESSION_DEFLATE,
        .chains = 64,
        .sampler = FLEXCL_SAMPLER_EXACT,
        .max_points = JOB_MAX_POINTS,
    };
    flexcl_data_settings_default(&s->data);
    flexcl_model_settings_default(&s->model);
    flexcl_estimator_settings_default(&s->estimator);
    flexcl_optim_settings_default(&s->optim);
    flexcl_supervised_settings_default(&s->supervised);
    s->theta0 = (flexcl_theta0_settings){
        .source = FLEXCL_THETA0_TRAIN,
        .updates = 2000,
        .eta = 0.05,
        .k = 10,
        .file = "",
        .point = 0,
        .learner = 0,
    };
}

flexcl_code flexcl_job_create(const char *text, const char *filename,
                              size_t n_overrides, const char *const *overrides,
                              flexcl_job **out)
{
    flexcl_code err = FLEXCL_OK;
    flexcl_job *job = NULL;
    FLEXCL_CHECK(text != NULL && out != NULL &&
                     (n_overrides == 0 || overrides != NULL),
                 FLEXCL_ERR_ARG, "flexcl_job_create: NULL argument");
    if (filename == NULL) filename = "<job>";
    FLEXCL_ALLOC(job, 1);
    job->text = dup_printf("%s", text);
    job->filename = dup_printf("%s", filename);
    FLEXCL_CHECK(job->text != NULL && job->filename != NULL, FLEXCL_ERR_NOMEM,
                 "cannot copy the job text");
    FLEXCL_CALL(parse_text(job));
    for (size_t i = 0; i < n_overrides; ++i)
        FLEXCL_CALL(apply_override(job, overrides[i]));
    FLEXCL_CALL(build_grid(job));
    *out = job;
    job = NULL;
done:
    flexcl_job_destroy(&job);
    return err;
}

void flexcl_job_destroy(flexcl_job **job)
{
    if (job == NULL || *job == NULL) return;
    for (size_t k = 0; k < N_KEYS; ++k) slot_clear(&(*job)->slots[k]);
    for (size_t g = 0; g < (*job)->n_grids; ++g) {
        grid *gr = &(*job)->grids[g];
        for (size_t k = 0; k < N_KEYS; ++k) slot_clear(&gr->slots[k]);
        free(gr->name);
        free(gr->loc);
        free(gr->scalar);
    }
    free((*job)->grids);
    free((*job)->text);
    free((*job)->filename);
    free(*job);
    *job = NULL;
}

/* Reading job files and their includes -------------------------------------*/

/* A growing text. */
typedef struct {
    char *buf;
    size_t len, cap;
} text_buf;

/* Append n bytes; 0 on success, -1 when out of memory, 1 when the text
 * would exceed JOB_MAX_BYTES. */
static int tb_add(text_buf *b, const char *s, size_t n)
{
    if (n > JOB_MAX_BYTES || b->len > JOB_MAX_BYTES - n) return 1;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n + 1) cap *= 2;
        char *more = realloc(b->buf, cap);
        if (more == NULL) return -1;
        b->buf = more;
        b->cap = cap;
    }
    memcpy(b->buf + b->len, s, n);
    b->len += n;
    b->buf[b->len] = '\0';
    return 0;
}

static int tb_printf(text_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static int tb_printf(text_buf *b, const char *fmt, ...)
{
    char line[FLEXCL_PATH_MAX + 64];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof line) return 1;
    return tb_add(b, line, (size_t)n);
}

/* One file on the include stack. */
typedef struct {
    dev_t dev;
    ino_t ino;
    const char *name; /* as shown in messages */
} include_frame;

typedef struct {
    include_frame stack[INCLUDE_DEPTH + 1];
    int depth;        /* files on the stack */
    int has_includes; /* any @include seen: markers are needed */
    text_buf out;
} expansion;

/* Read the whole file at path (at most JOB_MAX_BYTES) into *data. Included
 * files (must_be_regular) are opened without blocking and must be regular
 * files, so that an "@include /dev/stdin" or a FIFO cannot hang a job; the
 * top-level file may be a pipe ("flexcl run /dev/stdin"). On failure the
 * reason (without the file name) is written to why. */
static int slurp(const char *path, int must_be_regular, char **data,
                 size_t *n, struct stat *info, char *why, size_t why_n)
{
    *data = NULL;
    *n = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC | (must_be_regular ? O_NONBLOCK : 0));
    if (fd < 0) {
        snprintf(why, why_n, "%s", strerror(errno));
        return 1;
    }
    if (fstat(fd, info) != 0) {
        snprintf(why, why_n, "%s", strerror(errno));
        close(fd);
        return 1;
    }
    if (S_ISDIR(info->st_mode) || (must_be_regular && !S_ISREG(info->st_mode))) {
        snprintf(why, why_n, "%s", S_ISDIR(info->st_mode)
                                       ? "is a directory"
                                       : "not a regular file");
        close(fd);
        return 1;
    }
    char *b = malloc(JOB_MAX_BYTES + 2);
    if (b == NULL) {
        snprintf(why, why_n, "out of memory");
        close(fd);
        return 1;
    }
    size_t got = 0;
    while (got <= JOB_MAX_BYTES) {
        ssize_t r = read(fd, b + got, JOB_MAX_BYTES + 1 - got);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) {
            snprintf(why, why_n, "%s", strerror(errno));
            free(b);
            close(fd);
            return 1;
        }
        if (r == 0) break;
        got += (size_t)r;
    }
    close(fd);
    if (got > JOB_MAX_BYTES) {
        snprintf(why, why_n, "larger than 1 MiB");
        free(b);
        return 1;
    }
    const char *nul = memchr(b, '\0', got);
    if (nul != NULL) {
        snprintf(why, why_n,
                 "contains a NUL byte (at byte %zu); it is not a text file",
                 (size_t)(nul - b));
        free(b);
        return 1;
    }
    b[got] = '\0';
    *data = b;
    *n = got;
    return 0;
}

/* "dir/of/including.ini" + "other.ini" -> "dir/of/other.ini". */
static char *include_path(const char *including, const char *target)
{
    if (target[0] == '/') return dup_printf("%s", target);
    const char *slash = strrchr(including, '/');
    if (slash == NULL) return dup_printf("%s", target);
    return dup_printf("%.*s/%s", (int)(slash - including + 1) - 1, including,
                      target);
}

/* True when s holds a control character (a marker line holds one name). */
static int has_control(const char *s)
{
    for (; *s; ++s)
        if (iscntrl((unsigned char)*s)) return 1;
    return 0;
}

static flexcl_code expand_text(expansion *x, const char *name,
                               const char *data, size_t n);

/* The "@include TARGET" at name:line, with section in force there. */
static flexcl_code expand_include(expansion *x, const char *name, int line,
                                  const char *target, const char *section)
{
    flexcl_code err = FLEXCL_OK;
    char *path = NULL, *data = NULL;
    size_t n = 0;
    struct stat info;
    char why[256], e[ECHO_MAX + 4], e2[ECHO_MAX + 4];
    FLEXCL_CHECK(target[0] != '\0', FLEXCL_ERR_JOB,
                 "%s:%d: @include needs a file name", name, line);
    path = include_path(name, target);
    FLEXCL_CHECK(path != NULL, FLEXCL_ERR_NOMEM, "out of memory");
    FLEXCL_CHECK(!has_control(path), FLEXCL_ERR_JOB,
                 "%s:%d: @include %s: the path holds a control character",
                 name, line, echo(target, e));
    FLEXCL_CHECK(x->depth < INCLUDE_DEPTH, FLEXCL_ERR_JOB,
                 "%s:%d: @include %s: includes nest more than %d deep", name,
                 line, echo(target, e), INCLUDE_DEPTH);
    FLEXCL_CHECK(slurp(path, 1, &data, &n, &info, why, sizeof why) == 0,
                 FLEXCL_ERR_JOB, "%s:%d: @include %s: cannot read %s: %s",
                 name, line, echo(target, e), echo(path, e2), why);
    for (int d = 0; d < x->depth; ++d) {
        if (x->stack[d].dev != info.st_dev || x->stack[d].ino != info.st_ino)
            continue;
        char chain[768] = "";
        size_t used = 0;
        for (int k = d; k < x->depth && used < sizeof chain; ++k)
            used += (size_t)snprintf(chain + used, sizeof chain - used,
                                     "%s -> ", x->stack[k].name);
        if (used < sizeof chain)
            snprintf(chain + used, sizeof chain - used, "%s", path);
        FLEXCL_FAIL(FLEXCL_ERR_JOB, "%s:%d: @include %s: include cycle (%s)",
                    name, line, echo(target, e), chain);
    }
    x->stack[x->depth++] = (include_frame){info.st_dev, info.st_ino, path};
    x->has_includes = 1;
    int r = tb_printf(&x->out, "%sinclude %s\n%ssection\n%sat 1 %s\n", MARKER,
                      target, MARKER, MARKER, path);
    if (r == 0) {
        flexcl_code e3 = expand_text(x, path, data, n);
        if (e3 != FLEXCL_OK) {
            x->depth--;
            FLEXCL_CALL(e3);
        }
        if (x->out.len > 0 && x->out.buf[x->out.len - 1] != '\n')
            r = tb_add(&x->out, "\n", 1);
        if (r == 0)
            r = tb_printf(&x->out, "%ssection %s\n%sat %d %s\n", MARKER,
                          section, MARKER, line + 1, name);
    }
    x->depth--;
    FLEXCL_CHECK(r >= 0, FLEXCL_ERR_NOMEM, "out of memory");
    FLEXCL_CHECK(r == 0, FLEXCL_ERR_JOB,
                 "%s: job file with its includes is larger than 1 MiB",
                 x->stack[0].name);
done:
    free(data);
    free(path);
    return err;
}

/* Copy the lines of one file (name: as shown), expanding its includes. */
static flexcl_code expand_text(expansion *x, const char *name,
                               const char *data, size_t n)
{
    flexcl_code err = FLEXCL_OK;
    char section[256] = ""; /* in force, as "run" or "grid.NAME" */
    char *target = NULL;
    int line = 0;
    size_t pos = 0;
    if (x->depth > 1 && n >= 3 && memcmp(data, "\xEF\xBB\xBF", 3) == 0)
        pos = 3; /* byte order mark of an included file */
    while (pos < n) {
        const char *p = data + pos;
        const char *nl = memchr(p, '\n', n - pos);
        const size_t full = nl ? (size_t)(nl - p) + 1 : n - pos;
        size_t len = nl ? (size_t)(nl - p) : n - pos;
        pos += full;
        if (line < INT_MAX) ++line;
        const char *q = p;
        while (len > 0 && is_blank(*q)) ++q, --len;
        while (len > 0 && is_blank(q[len - 1])) --len;
        if (len > 0 && *q == '[') {
            const char *rb = memchr(q, ']', len);
            if (rb != NULL) {
                char *sec = dup_trimmed(q + 1, (size_t)(rb - q - 1));
                FLEXCL_CHECK(sec != NULL, FLEXCL_ERR_NOMEM, "out of memory");
                snprintf(section, sizeof section, "%s", sec);
                free(sec);
            }
        }
        if (len >= 8 && memcmp(q, "@include", 8) == 0 &&
            (len == 8 || is_blank(q[8]))) {
            /* The name runs to a ';' or '#' after whitespace. */
            size_t end = 8;
            while (end < len && !((q[end] == ';' || q[end] == '#') &&
                                  is_blank(q[end - 1])))
                ++end;
            target = dup_trimmed(q + 8, end - 8);
            FLEXCL_CHECK(target != NULL, FLEXCL_ERR_NOMEM, "out of memory");
            FLEXCL_CALL(expand_include(x, name, line, target, section));
            free(target);
            target = NULL;
            continue;
        }
        int r = tb_add(&x->out, p, full);
        FLEXCL_CHECK(r >= 0, FLEXCL_ERR_NOMEM, "out of memory");
        FLEXCL_CHECK(r == 0, FLEXCL_ERR_JOB,
                     "%s: job file with its includes is larger than 1 MiB",
                     x->stack[0].name);
    }
done:
    free(target);
    return err;
}

flexcl_code flexcl_job_read(const char *path, char **text)
{
    flexcl_code err = FLEXCL_OK;
    expansion *x = NULL;
    char *data = NULL;
    size_t n = 0;
    struct stat info;
    char why[256];
    FLEXCL_CHECK(text != NULL, FLEXCL_ERR_ARG, "flexcl_job_read: text is NULL");
    *text = NULL;
    FLEXCL_CHECK(path != NULL && path[0] != '\0', FLEXCL_ERR_JOB,
                 "cannot read job file: no path given");
    FLEXCL_CHECK(slurp(path, 0, &data, &n, &info, why, sizeof why) == 0,
                 FLEXCL_ERR_JOB, "%s: cannot read job file: %s", path, why);
    FLEXCL_ALLOC(x, 1);
    x->stack[0] = (include_frame){info.st_dev, info.st_ino, path};
    x->depth = 1;
    FLEXCL_CALL(expand_text(x, path, data, n));
    if (!x->has_includes) {
        /* Byte for byte: the text of a job without includes is unchanged. */
        *text = data;
        data = NULL;
        goto done;
    }
    FLEXCL_CHECK(!has_control(path), FLEXCL_ERR_JOB,
                 "%s: a job file with includes needs a path without control "
                 "characters",
                 path);
    if (x->out.buf == NULL) FLEXCL_CHECK(tb_add(&x->out, "", 0) == 0,
                                         FLEXCL_ERR_NOMEM, "out of memory");
    *text = x->out.buf;
    x->out.buf = NULL;
done:
    if (x != NULL) free(x->out.buf);
    free(x);
    free(data);
    return err;
}

flexcl_code flexcl_job_load(MPI_Comm comm, const char *path, size_t n_overrides,
                            const char *const *overrides, flexcl_job **out)
{
    flexcl_code err = FLEXCL_OK;
    char *buf = NULL;
    int rank = 0;
    /* head[0]: 0 = the job text follows, 1 = an error message follows,
     * 2 = rank 0 is out of memory; head[1]: bytes that follow. */
    long long head[2] = {0, 0};
    const char *name = path ? path : "(null)";
    FLEXCL_CHECK(out != NULL, FLEXCL_ERR_ARG, "flexcl_job_load: out is NULL");
    FLEXCL_MPI(MPI_Comm_rank(comm, &rank));
    if (rank == 0) {
        flexcl_code e = flexcl_job_read(path, &buf);
        if (e != FLEXCL_OK) buf = dup_printf("%s", flexcl_error_message());
        head[0] = buf == NULL || e == FLEXCL_ERR_NOMEM ? 2 : e != FLEXCL_OK;
        head[1] = head[0] == 2 ? 0 : (long long)strlen(buf);
    }
    FLEXCL_MPI(MPI_Bcast(head, 2, MPI_LONG_LONG, 0, comm));
    FLEXCL_CHECK(head[0] != 2, FLEXCL_ERR_NOMEM,
                 "%s: rank 0 cannot allocate a buffer for the job file", name);
    if (rank != 0) buf = malloc((size_t)head[1] + 1);
    /* Every rank must be able to receive before anyone broadcasts. */
    int ok = buf != NULL, all_ok = 0;
    FLEXCL_MPI(MPI_Allreduce(&ok, &all_ok, 1, MPI_INT, MPI_MIN, comm));
    FLEXCL_CHECK(all_ok, FLEXCL_ERR_NOMEM,
                 "%s: cannot allocate %lld bytes for the job file on every rank",
                 name, head[1]);
    FLEXCL_MPI(MPI_Bcast(buf, (int)head[1], MPI_BYTE, 0, comm));
    buf[head[1]] = '\0';
    FLEXCL_CHECK(head[0] == 0, FLEXCL_ERR_JOB, "%s", buf);
    FLEXCL_CALL(flexcl_job_create(buf, name, n_overrides, overrides, out));
done:
    free(buf);
    return err;
}

const char *flexcl_job_text(const flexcl_job *job) { return job ? job->text : NULL; }

/* Index of key name for the location functions: N_KEYS when unknown. */
static size_t location_key(const char *name)
{
    return name ? key_by_name(name) : N_KEYS;
}

const char *flexcl_job_key_location(const flexcl_job *job, const char *name)
{
    size_t k = location_key(name);
    if (!job || k >= N_KEYS) return NULL;
    /* The first sub-grid that sets the key; else the base. */
    for (size_t g = 0; g < job->n_subgrids; ++g)
        if (job->grids[g].slots[k].loc) return job->grids[g].slots[k].loc;
    return job->slots[k].loc ? job->slots[k].loc : "default";
}

const char *flexcl_job_filename(const flexcl_job *job)
{
    return job ? job->filename : NULL;
}

size_t flexcl_job_n_points(const flexcl_job *job) { return job ? job->n_points : 0; }

/* The grid that holds point i < n_points. */
static const grid *grid_of(const flexcl_job *job, size_t i)
{
    size_t lo = 0, hi = job->n_grids; /* grids[lo].first <= i < grids[hi].first */
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (job->grids[mid].first <= i)
            lo = mid;
        else
            hi = mid;
    }
    return &job->grids[lo];
}

/* Axis indices in g of point i (the replicate index is (i - first) %
 * replicates). */
static void point_indices(const grid *g, size_t i, size_t *idx)
{
    size_t gidx[N_KEYS];
    size_t c = (i - g->first) / (size_t)g->replicates;
    for (size_t gr = g->n_groups; gr-- > 0;) {
        gidx[gr] = c % g->group_len[gr];
        c /= g->group_len[gr];
    }
    for (size_t a = 0; a < g->n_axes; ++a) idx[a] = gidx[g->group[a]];
}

const char *flexcl_job_point_key_location(const flexcl_job *job, size_t i,
                                          const char *name)
{
    size_t k = location_key(name);
    if (!job || k >= N_KEYS || i >= job->n_points) return NULL;
    const slot *sl = grid_of(job, i)->eff[k];
    return sl->loc ? sl->loc : "default";
}

flexcl_code flexcl_job_point(const flexcl_job *job, size_t i,
                             flexcl_settings *out)
{
    flexcl_code err = FLEXCL_OK;
    FLEXCL_CHECK(job != NULL && out != NULL, FLEXCL_ERR_ARG,
                 "flexcl_job_point: NULL argument");
    FLEXCL_CHECK(i < job->n_points, FLEXCL_ERR_ARG,
                 "flexcl_job_point: point %zu is not below %zu", i,
                 job->n_points);
    const grid *g = grid_of(job, i);
    size_t idx[N_KEYS];
    point_indices(g, i, idx);
    *out = g->base;
    for (size_t a = 0; a < g->n_axes; ++a) {
        const size_t k = g->axes[a];
        write_field(out, &keys[k], g->eff[k]->vals[idx[a]]);
    }
done:
    return err;
}

size_t flexcl_job_n_axes(const flexcl_job *job) { return job ? job->n_axes : 0; }

const char *flexcl_job_axis_name(const flexcl_job *job, size_t axis)
{
    if (job == NULL || axis >= job->n_axes) return NULL;
    return keys[job->axes[axis]].name;
}

size_t flexcl_job_axis_length(const flexcl_job *job, size_t axis)
{
    if (job == NULL || axis >= job->n_axes) return 0;
    return job->axis_len[axis];
}

const char *flexcl_job_point_value(const flexcl_job *job, size_t i, size_t axis)
{
    if (job == NULL || i >= job->n_points || axis >= job->n_axes) return NULL;
    const grid *g = grid_of(job, i);
    const size_t a = g->local[axis];
    if (a == SIZE_MAX) return g->scalar[axis];
    size_t idx[N_KEYS];
    point_indices(g, i, idx);
    return g->eff[g->axes[a]]->texts[idx[a]];
}

int flexcl_job_point_replicate(const flexcl_job *job, size_t i)
{
    if (job == NULL || i >= job->n_points) return -1;
    const grid *g = grid_of(job, i);
    return (int)((i - g->first) % (size_t)g->replicates);
}

uint64_t flexcl_job_stream_point(const flexcl_job *job, size_t i)
{
    if (job == NULL || i >= job->n_points) return (uint64_t)i;
    const grid *g = grid_of(job, i);
    if (g->base.run.streams == FLEXCL_STREAMS_REPLICATE)
        return (uint64_t)((i - g->first) % (size_t)g->replicates);
    return (uint64_t)i;
}

size_t flexcl_job_n_subgrids(const flexcl_job *job)
{
    return job ? job->n_subgrids : 0;
}

const char *flexcl_job_point_subgrid(const flexcl_job *job, size_t i)
{
    if (job == NULL || i >= job->n_points) return NULL;
    return grid_of(job, i)->name;
}

size_t flexcl_job_key_count(void) { return N_KEYS; }

flexcl_job_key_info flexcl_job_key(size_t i)
{
    static const char *const type_names[] = {
        [T_INT] = "int",   [T_UINT] = "uint",     [T_REAL] = "real",
        [T_BOOL] = "bool", [T_ENUM] = NULL,       [T_STRING] = "string",
        [T_PATH] = "path", [T_ZIP] = "string",
    };
    flexcl_job_key_info info = {0};
    if (i >= N_KEYS) return info;
    const key_def *k = &keys[i];
    info.section = k->section;
    info.key = k->key;
    info.type = k->type == T_ENUM ? k->names : type_names[k->type];
    info.unit = k->unit;
    info.help = k->help;
    info.listable = k->listable;
    return info;
}

void flexcl_job_key_default(size_t i, char *buf, size_t n)
{
    if (buf == NULL || n == 0) return;
    buf[0] = '\0';
    if (i >= N_KEYS) return;
    flexcl_settings s;
    flexcl_settings_default(&s);
    format_field(&s, &keys[i], buf, n);
}

const char *flexcl_experiment_name(flexcl_experiment e)
{
    switch (e) {
    case FLEXCL_EXP_TRAIN: return "train";
    case FLEXCL_EXP_ISD_VARIANCE: return "isd_variance";
    case FLEXCL_EXP_AOL_BIAS: return "aol_bias";
    case FLEXCL_EXP_TCL_SYNAPSE: return "tcl_synapse";
    }
    return "?";
}
