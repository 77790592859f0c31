/* flexcl/learner.h — estimators, phase protocols and learners.
 *
 * A learner is one simulated neuromorphic core: its own model replica,
 * persistent chain, phase clock, data cursor, optimiser and Philox stream
 * (seed, grid point, learner id). It advances in time steps (one step = one
 * step of the model's dynamics, a Gibbs sweep for an RBM). The estimator
 * decides how phases are chosen and when θ moves (SPEC §2):
 *
 *   two_term  positive then negative phase, each T steps; G⁺ is held until the
 *             negative phase ends, then θ += η (G⁺ − G⁻). `persistent = 0`
 *             restarts the negative chain at the positive phase's data rows
 *             (CD-K, the authors' baseline); 1 keeps one persistent chain.
 *   isd       each phase's type z ~ Bernoulli(b); T steps; at the phase end
 *             θ += η w_z G(z_T) with w₁ = 1/b, w₀ = −1/(1−b) (importance).
 *   aol       phase type as isd, but θ += (η/τ) w_z G(z_t) at every step.
 *   tcl       temporal CL (flexcl/tcl.h, docs/tcl.md): one sawtooth cycle per
 *             minibatch — a positive phase begun with the rows at nudge
 *             level 0, τ steps of free (negative-phase) dynamics, then ramp
 *             points at levels r_n (positive phase) with
 *             tcl.relax steps each; the statistic G read at every ramp point
 *             is filtered per parameter by the memory (u = K * G, adapted to
 *             the free state at the cycle start) and at the cycle end
 *             θ += η Σ_n g(u_n) dt/τ_K. Needs a model with the nudge
 *             operation; b, weights and law do not apply. Its runs refuse
 *             checkpoints (FLEXCL_ERR_UNSUPPORTED): the mid-cycle memory is
 *             not saved.
 *
 * Phase length T: fixed (T = τ), geometric (P(T=t) = (1−p)^(t−1) p, p = 1/τ)
 * or uniform on {τ−w, …, τ+w}. Every law has E[T] = τ.
 *
 * Positive phases take the next data rows in an order that is reshuffled
 * every epoch from the learner's stream; nothing else is reset at a switch.
 * Learners never synchronise phases.
 *
 * Parameter averaging (SPEC §5). With average_every = A > 0 the G learners
 * of a communicator (G = ranks × L) average θ at the averaging points
 * t_k = k·A, k = 1, 2, … of their local clocks (every learner runs the same
 * number of steps, so they meet there). The mean is
 *     μ_k = (1/G) Σ_{j=0}^{G−1} θ_j(t_k),
 * summed in global learner order (never a floating-point MPI_Allreduce), so
 * every rank holds bitwise the same μ_k whatever the rank count, thread
 * count or MPI's algorithms. The sum is sliced: rank r owns about P/R of
 * the elements, receives every learner's values of them (an all-to-all),
 * sums them in learner order and sends its slice of μ_k to every rank (an
 * all-gather); each element's sum is the same as over whole vectors. A rank
 * holds about 2·L·P + P doubles per average, whatever the rank count.
 *   blocking    at t_k every learner's θ is replaced by μ_k: right after an
 *               averaging point all learners on all ranks hold bitwise the
 *               same θ.
 *   overlapped  at t_k each learner keeps a snapshot s_i = θ_i(t_k) and the
 *               snapshots travel in non-blocking collectives while the
 *               learners keep running. The average is applied at the fixed
 *               step t_k + D, D = ⌈A/2⌉ by default (1 ≤ D ≤ 16·A),
 *               whenever the collective actually completed, as the delta
 *                   θ_i ← θ_i + (μ_k − s_i),
 *               so the learner keeps the progress it made during the D
 *               stale steps. (In exact arithmetic the learners' mean is
 *               unchanged by the delta and their spread drops to the spread
 *               of those D steps' progress; the learners are not equal
 *               after it.) When D = A (A = 1) the average applied at t_{k+1}
 *               comes before the snapshot taken there. When D > A, up to
 *               ⌈D/A⌉ averages are in flight at once and a snapshot s_i may
 *               be taken before earlier averages were applied; the delta
 *               is then c_i = (μ_k − s_i) − a_i, where a_i is the sum of the
 *               deltas c applied to learner i after t_k (by averages
 *               started before t_k), so that no deviation from the mean is
 *               corrected twice. For D <= A, a_i = 0 and the arithmetic is
 *               the one above, bit for bit. An average whose
 *               step t_k + D lies beyond the run's last step is never
 *               applied. Because the step of application is fixed, results
 *               never depend on when the communication finished. The
 *               ranks meet only at the wait of step t_k + D (failures
 *               travel with the snapshots, not in a blocking agreement),
 *               and the collective is polled every 16 steps so that it
 *               progresses during the D steps (Open MPI has no progress
 *               thread).
 * A = 0 means independent replicas: learner k then runs exactly as a lone
 * learner with the same learner id (id_offset below).
 *
 * Spread. Before each average is applied, the RMS distance of every
 * learner's averaged parameters to their mean, d_j = ‖θ_j − μ‖ / √P, is
 * computed (for overlapped: of the snapshots s_j), and the mean and maximum
 * over the G learners are kept per averaging point
 * (flexcl_learner_averages); the driver writes them next to the learning
 * curve (docs/schema.md, curve/spread).
 *
 * Checkpoints. flexcl_learner_checkpoint_write saves every learner's θ,
 * chain states, model memory (flexcl_model_memory_get: eqprop's per-example
 * store), two_term's held G⁺, optimiser state, clocks (steps, phases,
 * updates, the current phase's type and remaining steps, data epoch and
 * cursor, the current positive phase's data rows) and the averaging state
 * (the overlapped averages in flight included, as their snapshots and
 * corrections) and the
 * spread history; flexcl_learner_checkpoint_read restores them into fresh
 * learners created with the same settings, after which the run continues
 * bitwise as if never interrupted (Philox counters are derived from the
 * step counters, so those are the random streams' state).
 */
#ifndef FLEXCL_LEARNER_H
#define FLEXCL_LEARNER_H

#include <mpi.h>
#include <stddef.h>
#include <stdint.h>

#include "flexcl/checkpoint.h"
#include "flexcl/data.h"
#include "flexcl/error.h"
#include "flexcl/model.h"
#include "flexcl/optim.h"
#include "flexcl/rng.h"
#include "flexcl/tcl.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    FLEXCL_EST_TWO_TERM = 0,
    FLEXCL_EST_ISD = 1,
    FLEXCL_EST_AOL = 2,
    FLEXCL_EST_TCL = 3 /* temporal CL: sawtooth + per-parameter memory (flexcl/tcl.h) */
} flexcl_estimator_kind;

typedef enum {
    FLEXCL_LAW_FIXED = 0,
    FLEXCL_LAW_GEOMETRIC = 1,
    FLEXCL_LAW_UNIFORM = 2
} flexcl_phase_law;

typedef enum {
    FLEXCL_WEIGHTS_IMPORTANCE = 0, /* w₁ = 1/b, w₀ = −1/(1−b): unbiased */
    FLEXCL_WEIGHTS_UNIT = 1,       /* w₁ = 1, w₀ = −1: the authors' FF code as run */
    FLEXCL_WEIGHTS_SWAPPED = 2     /* w₁ = 1/(1−b), w₀ = −1/b: a deliberately
                                      biased negative control (biased for b ≠ ½) */
} flexcl_weights;

typedef struct {
    flexcl_estimator_kind kind; /* default isd */
    double eta;           /* learning rate η; default 0.005 (authors) */
    double b;             /* positive-phase probability, in (0, 1); default 0.5 */
    flexcl_weights weights; /* default importance */
    double tau;           /* mean phase length τ in time steps; default 200 */
    flexcl_phase_law law; /* default fixed */
    int uniform_halfwidth; /* w of the uniform law, 0 <= w < τ; default 0 */
    int persistent;       /* two_term: 1 persistent chain, 0 CD-K from the data; default 0 */
    int batch;            /* chains per learner (minibatch), >= 1; default 1 */
    flexcl_tcl_settings tcl; /* kind tcl: kernel, dead zone, sawtooth (job section [tcl]) */
} flexcl_estimator_settings;

void flexcl_estimator_settings_default(flexcl_estimator_settings *s);

/* Names for job files and output: "two_term", "isd", "aol"; "fixed",
 * "geometric", "uniform"; "importance", "unit", "swapped". */
const char *flexcl_estimator_kind_name(flexcl_estimator_kind k);
const char *flexcl_phase_law_name(flexcl_phase_law l);
const char *flexcl_weights_name(flexcl_weights w);

/* Importance weights (w₁, w₀) of a weights mode at probability b. */
void flexcl_estimator_weights(flexcl_weights mode, double b, double *w_pos,
                              double *w_neg);

/* Draw a phase length from the law with mean tau using u ∈ (0,1). */
uint64_t flexcl_phase_length(flexcl_phase_law law, double tau, int halfwidth,
                             double u);

typedef enum {
    FLEXCL_AVERAGING_BLOCKING = 0,  /* replace θ by the mean at t_k (default) */
    FLEXCL_AVERAGING_OVERLAPPED = 1 /* non-blocking; delta applied at t_k + D (⌈A/2⌉ default) */
} flexcl_averaging;

/* "blocking", "overlapped". */
const char *flexcl_averaging_name(flexcl_averaging a);

/* How an average's values travel between ranks. All give bitwise the same
 * mean, spreads and runs; they differ in memory, traffic and latency.
 *   allgather  one collective: every rank receives every learner's θ
 *              (R·L·P doubles per average) and sums the whole mean;
 *   sliced     three: each rank receives every learner's values of its
 *              P/R elements, sums them and all-gathers its slice of the
 *              mean, then the learners' distances (about 2·L·P + P doubles
 *              per rank, whatever R; more latency per average);
 *   shared     every rank on one node: an MPI-3 shared-memory window
 *              (MPI_Win_allocate_shared) holds each average's R·L·P values
 *              once per node; a rank writes its learners' θ into its block
 *              and publishes it with one atomic store, and reads the others'
 *              blocks in place: no message, no MPI call per average
 *              (2·⌈D/A⌉·R·L·P doubles per node);
 *   auto       shared when every rank is on one node and R·L·P <=
 *              FLEXCL_EXCHANGE_AUTO_DOUBLES; otherwise sliced when R >= 3
 *              and R·L·P > FLEXCL_EXCHANGE_AUTO_DOUBLES, else allgather
 *              (the default). */
typedef enum {
    FLEXCL_EXCHANGE_AUTO = 0,
    FLEXCL_EXCHANGE_ALLGATHER = 1,
    FLEXCL_EXCHANGE_SLICED = 2,
    FLEXCL_EXCHANGE_SHARED = 3
} flexcl_exchange;
#define FLEXCL_EXCHANGE_AUTO_DOUBLES ((size_t)1 << 22) /* 32 MiB */
/* "auto", "allgather", "sliced", "shared". */
const char *flexcl_exchange_name(flexcl_exchange e);
/* 1 when an exchange choice `e` slices for R ranks of L learners of P
 * parameters spread over several nodes (auto's rule there). */
int flexcl_exchange_sliced(flexcl_exchange e, int R, int L, size_t P);
/* The exchange a choice `e` resolves to for R ranks of L learners of P
 * parameters, `one_node` = 1 when every rank shares one node's memory
 * (allgather, sliced or shared; never auto). */
flexcl_exchange flexcl_exchange_choose(flexcl_exchange e, int R, int L, size_t P, int one_node);
/* The default stale delay D = ⌈A/2⌉ of overlapped averaging (0 when A = 0);
 * flexcl_learner_settings.average_delay overrides it. */
uint64_t flexcl_averaging_delay(uint64_t average_every);

/* The longest delay, in averaging periods: D <= 16·A. With D > A, up to
 * ⌈D/A⌉ averages are in flight at once, each holding about 2·L·P + P
 * doubles and its L·P corrections. */
#define FLEXCL_AVERAGING_MAX_PERIODS 16
/* 1 when average_delay <= FLEXCL_AVERAGING_MAX_PERIODS · average_every
 * (computed without overflow). */
int flexcl_averaging_delay_allowed(uint64_t average_delay, uint64_t average_every);

typedef struct {
    uint64_t seed;          /* job seed */
    uint64_t point;         /* grid point index (key of the stream) */
    int learners_per_rank;  /* L >= 1 */
    uint64_t average_every; /* A steps between parameter averages; 0 = never */
    flexcl_averaging averaging; /* how averages are taken; default blocking */
    uint64_t average_delay; /* overlapped: steps from an average's start to
                               its application, 1..16·A; 0 = ⌈A/2⌉ (default).
                               Longer = staler averages, fewer waits; above
                               A, several averages are in flight at once. */
    flexcl_exchange exchange; /* how averages travel; default auto */
    uint64_t id_offset;     /* learner k = rank·L + i of the communicator draws
                               from the stream (seed, point, id_offset + k);
                               default 0. Lets a subset of a job's learners be
                               rerun alone (k < 2^32 − id_offset). */
} flexcl_learner_settings;

/* seed 1, point 0, L = 1, A = 0, blocking, id_offset 0. Not collective. */
void flexcl_learner_settings_default(flexcl_learner_settings *s);

typedef struct flexcl_learner flexcl_learner;

/* Create the L learners of this rank for one grid point. Every learner gets
 * a model created from ms (initialised from its own stream unless
 * same_init = 1, in which case all use the stream of learner id 0, whatever
 * id_offset, so the replicas start equal), a chain of es->batch states, and
 * an optimiser. data is borrowed and must outlive the learner. comm is
 * duplicated. Invalid settings (L < 1, b outside (0, 1), averaging not a
 * flexcl_averaging value, …) fail with FLEXCL_ERR_ARG naming the field.
 * Collective on comm. */
flexcl_code flexcl_learner_create(MPI_Comm comm,
                                  const flexcl_learner_settings *ls,
                                  const flexcl_model_settings *ms,
                                  const flexcl_estimator_settings *es,
                                  const flexcl_optim_settings *os,
                                  const flexcl_data *data, int same_init,
                                  flexcl_learner **out);
/* Collective on the learner's communicator (overlapped averages still in
 * flight are completed and dropped). NULL-safe; sets *l to NULL. */
void flexcl_learner_destroy(flexcl_learner **l);

/* Advance every local learner by n time steps (OpenMP over local learners;
 * averaging points and overlapped applications are handled at their exact
 * steps, also inside the n steps). Collective on the learner's communicator
 * when averaging is on; all ranks pass the same n. */
flexcl_code flexcl_learner_advance(flexcl_learner *l, uint64_t n);

/* Local learners, the global learner count, the index of local learner 0
 * among the communicator's learners (rank·L: its row in [G, …] arrays; its
 * stream id is id_offset plus this), and learner i's model (borrowed). */
int flexcl_learner_local_count(const flexcl_learner *l);
int flexcl_learner_global_count(const flexcl_learner *l);
int flexcl_learner_first_id(const flexcl_learner *l);
/* The exchange its averages use (run.average_exchange resolved: never auto). */
flexcl_exchange flexcl_learner_exchange(const flexcl_learner *l);
flexcl_model *flexcl_learner_model(flexcl_learner *l, int local_index);

/* One averaging point's record. */
typedef struct {
    uint64_t step;    /* t_k: step at which the averaged parameters were taken */
    uint64_t applied; /* step at which the average was applied (t_k if blocking) */
    double rms_mean;  /* mean over learners of ‖θ_j − μ‖/√P before averaging */
    double rms_max;   /* their maximum */
} flexcl_average_record;

/* The averages applied so far, in order (the same on every rank); the array
 * is borrowed and valid until the next advance. Not collective. */
size_t flexcl_learner_n_averages(const flexcl_learner *l);
const flexcl_average_record *flexcl_learner_averages(const flexcl_learner *l);

/* Wall-clock seconds this rank has spent so far waiting for averages to
 * complete (an overlapped average not complete at its application step, a
 * blocking average's exchange, the failure agreement before it): time the
 * rank could not run its learners. Timing only; results never depend on
 * it. Not collective. */
double flexcl_learner_wait_seconds(const flexcl_learner *l);

/* The spread of the learners' current parameters: mean and maximum over
 * learners of ‖θ_j − μ‖/√P with μ their mean (the averaging's fixed-order
 * sums: bitwise the same on every rank). Completes the averages in flight
 * first (they are still applied at their steps). Collective. */
flexcl_code flexcl_learner_spread(flexcl_learner *l, double *rms_mean, double *rms_max);

/* Save the learners' complete state into the checkpoint being written (the
 * datasets and attributes under "learner/", docs/checkpoint.md). The
 * overlapped averages in flight are completed (MPI_Wait) and saved as their
 * snapshots; each is still applied at its fixed step. Fails with
 * FLEXCL_ERR_UNSUPPORTED when the model cannot restore chain states.
 * Collective. */
flexcl_code flexcl_learner_checkpoint_write(flexcl_learner *l, flexcl_checkpoint *ck);
/* Restore the state saved by flexcl_learner_checkpoint_write into learners
 * just created with the same settings, model, estimator, optimiser and data.
 * A checkpoint of another learner count, parameter count, batch or averaging
 * schedule fails with FLEXCL_ERR_JOB naming the file and the difference (a
 * train checkpoint resumes only on the rank count that wrote it).
 * Collective. */
flexcl_code flexcl_learner_checkpoint_read(flexcl_learner *l, flexcl_checkpoint *ck);

/* Clock of local learner i: time steps done, phases completed, updates made. */
uint64_t flexcl_learner_steps(const flexcl_learner *l, int local_index);
uint64_t flexcl_learner_phases(const flexcl_learner *l, int local_index);
uint64_t flexcl_learner_updates(const flexcl_learner *l, int local_index);

#ifdef __cplusplus
}
#endif
#endif /* FLEXCL_LEARNER_H */
