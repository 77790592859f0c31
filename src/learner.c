/* Learners: the phase clock, the estimators and parameter averaging (see
 * flexcl/learner.h). Each local learner ("core") is a small state machine
 * advanced one time step at a time; nothing in it depends on the thread that
 * runs it, so results depend only on (job, seed, learner count). */
#include "flexcl/learner.h"

#include <limits.h>
#include <math.h>
#include <omp.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "kernels.h"

void flexcl_estimator_settings_default(flexcl_estimator_settings *s)
{
    s->kind = FLEXCL_EST_ISD;
    s->eta = 0.005;
    s->b = 0.5;
    s->weights = FLEXCL_WEIGHTS_IMPORTANCE;
    s->tau = 200.0;
    s->law = FLEXCL_LAW_FIXED;
    s->uniform_halfwidth = 0;
    s->persistent = 0;
    s->batch = 1;
    flexcl_tcl_settings_default(&s->tcl);
}

const char *flexcl_estimator_kind_name(flexcl_estimator_kind k)
{
    switch (k) {
    case FLEXCL_EST_TWO_TERM: return "two_term";
    case FLEXCL_EST_ISD: return "isd";
    case FLEXCL_EST_AOL: return "aol";
    case FLEXCL_EST_TCL: return "tcl";
    }
    return "?";
}

const char *flexcl_phase_law_name(flexcl_phase_law l)
{
    switch (l) {
    case FLEXCL_LAW_FIXED: return "fixed";
    case FLEXCL_LAW_GEOMETRIC: return "geometric";
    case FLEXCL_LAW_UNIFORM: return "uniform";
    }
    return "?";
}

const char *flexcl_weights_name(flexcl_weights w)
{
    switch (w) {
    case FLEXCL_WEIGHTS_IMPORTANCE: return "importance";
    case FLEXCL_WEIGHTS_UNIT: return "unit";
    case FLEXCL_WEIGHTS_SWAPPED: return "swapped";
    }
    return "?";
}

void flexcl_estimator_weights(flexcl_weights mode, double b, double *w_pos,
                              double *w_neg)
{
    switch (mode) {
    case FLEXCL_WEIGHTS_UNIT:
        *w_pos = 1.0;
        *w_neg = -1.0;
        return;
    case FLEXCL_WEIGHTS_SWAPPED:
        *w_pos = 1.0 / (1.0 - b);
        *w_neg = -1.0 / b;
        return;
    case FLEXCL_WEIGHTS_IMPORTANCE:
    default:
        *w_pos = 1.0 / b;
        *w_neg = -1.0 / (1.0 - b);
        return;
    }
}

uint64_t flexcl_phase_length(flexcl_phase_law law, double tau, int halfwidth,
                             double u)
{
    switch (law) {
    case FLEXCL_LAW_GEOMETRIC: {
        /* Inverse CDF of P(T=t) = (1−p)^(t−1) p on {1, 2, ...}, p = 1/τ. */
        double p = 1.0 / tau;
        if (p >= 1.0) return 1;
        double t = ceil(log(u) / log1p(-p));
        return t < 1.0 ? 1 : (uint64_t)t;
    }
    case FLEXCL_LAW_UNIFORM: {
        /* Uniform on {τ−w, ..., τ+w} (τ rounded to the nearest step). */
        long long centre = llround(tau);
        long long span = 2LL * halfwidth + 1;
        long long k = (long long)(u * (double)span);
        if (k >= span) k = span - 1;
        long long t = centre - halfwidth + k;
        return t < 1 ? 1 : (uint64_t)t;
    }
    case FLEXCL_LAW_FIXED:
    default: {
        long long t = llround(tau);
        return t < 1 ? 1 : (uint64_t)t;
    }
    }
}

const char *flexcl_averaging_name(flexcl_averaging a)
{
    switch (a) {
    case FLEXCL_AVERAGING_BLOCKING: return "blocking";
    case FLEXCL_AVERAGING_OVERLAPPED: return "overlapped";
    }
    return "?";
}

uint64_t flexcl_averaging_delay(uint64_t A) { return A - A / 2; }

const char *flexcl_exchange_name(flexcl_exchange e)
{
    switch (e) {
    case FLEXCL_EXCHANGE_AUTO: return "auto";
    case FLEXCL_EXCHANGE_ALLGATHER: return "allgather";
    case FLEXCL_EXCHANGE_SLICED: return "sliced";
    case FLEXCL_EXCHANGE_SHARED: return "shared";
    }
    return "?";
}

int flexcl_exchange_sliced(flexcl_exchange e, int R, int L, size_t P)
{
    if (e != FLEXCL_EXCHANGE_AUTO) return e == FLEXCL_EXCHANGE_SLICED;
    if (R < 3) return 0; /* two ranks: slicing saves no memory */
    size_t RL = (size_t)R * (size_t)L;
    return P > FLEXCL_EXCHANGE_AUTO_DOUBLES / RL;
}

flexcl_exchange flexcl_exchange_choose(flexcl_exchange e, int R, int L, size_t P, int one_node)
{
    if (e != FLEXCL_EXCHANGE_AUTO) return e;
    if (one_node && P <= FLEXCL_EXCHANGE_AUTO_DOUBLES / ((size_t)R * (size_t)L))
        return FLEXCL_EXCHANGE_SHARED;
    return flexcl_exchange_sliced(e, R, L, P) ? FLEXCL_EXCHANGE_SLICED : FLEXCL_EXCHANGE_ALLGATHER;
}

int flexcl_averaging_delay_allowed(uint64_t delay, uint64_t A)
{
    return A > UINT64_MAX / FLEXCL_AVERAGING_MAX_PERIODS ||
           delay <= FLEXCL_AVERAGING_MAX_PERIODS * A;
}

void flexcl_learner_settings_default(flexcl_learner_settings *s)
{
    memset(s, 0, sizeof *s);
    s->seed = 1;
    s->learners_per_rank = 1;
    s->averaging = FLEXCL_AVERAGING_BLOCKING;
}

typedef struct {
    flexcl_model *model;
    flexcl_chain *chain;     /* the persistent chain (positive phases for two_term) */
    flexcl_chain *neg_chain; /* two_term persistent: the separate PCD chain */
    flexcl_optim *opt;
    flexcl_stream stream;
    uint64_t t;          /* time steps done */
    uint64_t phases;     /* phases completed */
    uint64_t updates;    /* parameter updates made */
    flexcl_phase phase;  /* type of the current phase */
    uint64_t remaining;  /* steps left in the current phase; 0 = start one */
    double w;            /* weight of the current phase */
    double *g;           /* update direction (n_params); two_term: G⁺ from the end of
                          * the positive phase, then G⁺ − G⁻ (saved in checkpoints) */
    size_t *order;       /* data order of the current epoch */
    size_t cursor;       /* next position in order */
    uint64_t epoch;
    const float **rows;  /* rows of the current positive phase (batch) */
    size_t *row_idx;     /* their indices in the data set (for checkpoints) */
    /* Temporal CL (kind tcl). */
    flexcl_tcl_memory *mem; /* per-parameter memory */
    double *s_up;        /* interpolate: currents of the up-ramp samples 0..n_f, [n_f+1][P] */
    double *s_now;       /* the current sample's current s (P) */
    uint64_t cyc;        /* model steps done in the current sawtooth cycle */
} core;

/* One average. With the allgather exchange, one non-blocking collective:
 * an MPI_Iallgather of every rank's block (its learners' θ and its failure
 * flag, L·P + 1 doubles) into `gather`, after which every rank sums the
 * whole mean and every learner's distance to it. Sliced: rank r owns the
 * elements [off_r, off_r + n_r) of θ (n_r = P/R or one more), and three
 * non-blocking collectives run one after the other, each on its own
 * communicator:
 *   1. MPI_Ialltoallw (comm): every rank sends rank r its learners' θ on
 *      r's slice and its failure flag; r receives all G = R·L learners'
 *      pieces of its slice (recv);
 *   2. MPI_Iallgatherv (comm_mu): r's slice of the mean, summed from recv
 *      in global learner order (flexcl_kern_mean: the bits of a whole-θ
 *      mean), to every rank (mu);
 *   3. MPI_Iallgather (comm_sq): each rank's learners' squared distances to
 *      the mean, from their snapshots (sq).
 * So a rank holds about 2 L·P + P doubles per average, not R·L·P (an
 * allgather of every learner's θ, sessions 5-10), and sends and receives
 * about L·P + P instead of (R − 1)·L·P: a job's averaging memory and
 * traffic per rank do not grow with the rank count. The collectives of
 * one communicator start in slot order on every rank (slot_progress), the
 * first at the average's step. A slot's collective k is started when
 * `started` reaches k and complete when `done` does; a flag of any rank,
 * known to all after collective 1, ends the slot there (flagged). */
typedef struct {
    double *snap;  /* L·P + 1: this rank's learners' θ at `step` (blocking: θ),
                    * then its failure flag (1: its learners had failed);
                    * allgather: this rank's block of gather */
    double *gather; /* allgather: R·(L·P + 1), every rank's block */
    double *recv;  /* sliced: R·(L·n + 1), rank r's learners' pieces of this
                    * rank's slice (n doubles each), then r's flag */
    double *mu;    /* P: the mean */
    double *sq;    /* G (8·G allocated): every learner's ‖θ_k − μ‖² */
    /* D > A only: the local learners' correction sums (ccum) at the
     * snapshot (L·P). */
    double *csnap;
    MPI_Request req;
    int started, done, flagged;
    uint64_t step, apply_at;
    /* Shared exchange: gather is a buffer of the learner's shared window,
     * bound to each average at its start (shm_bind); `buf` is its index and
     * `seq` = step + 1 the value every rank publishes for it. */
    int shm;
    size_t buf;
    uint64_t seq;
} avg_slot;

/* A rank's published average in a shared buffer, on its own cache line. */
typedef struct {
    _Atomic uint64_t seq;
    char pad[64 - sizeof(_Atomic uint64_t)];
} shm_flag;

struct flexcl_learner {
    MPI_Comm comm;
    int rank, size, L;
    flexcl_learner_settings ls;
    flexcl_estimator_settings es;
    const flexcl_data *data;
    size_t P;
    core *cores;
    /* Averaging, sliced (avg_slot): this rank's slice [off, off + n) of θ;
     * per rank r the slices' lengths and offsets (slice_n, slice_off), and
     * the arguments of the MPI_Ialltoallw: to rank r one indexed type
     * a2a_type[r] (the L learners' pieces of r's slice and the flag), from
     * rank r L·n + 1 doubles at byte a2a_rdispl[r]. comm_mu and comm_sq:
     * duplicates of comm for collectives 2 and 3. */
    int sliced; /* the exchange (flexcl_exchange_choose) is sliced */
    /* The shared exchange: one window on the node (rank 0 allocates it;
     * every rank maps it), NB = 2·n_slots buffers of R blocks of L·P + 1
     * doubles (buffer b at shm_base + b·R·(L·P + 1), the allgather's
     * layout), then NB·R flags: flag b·R + r holds the seq of the last
     * average rank r published in buffer b. Average k (step k·A) uses buffer
     * k mod NB. Reuse is safe without further synchronisation: a rank
     * starts average k only after applying k − n_slots, which needed every
     * rank to have published k − n_slots, and a rank publishes k − n_slots
     * only after applying (so having read) k − 2·n_slots = k − NB. */
    int shm, shm_nb, win_ok, win_locked;
    MPI_Win win;
    double *shm_base;
    shm_flag *shm_flags;
    MPI_Comm comm_mu, comm_sq;
    size_t off, n;
    int *slice_n, *slice_off;
    int *a2a_one, *a2a_zero, *a2a_rcount, *a2a_rdispl;
    MPI_Datatype *a2a_type, *a2a_double;
    double *ccum;   /* D > A only: per local learner, the sum of the
                     * averaging deltas applied so far (L·P) */
    /* tcl with tcl.down = interpolate: the down-ramp samples' positions on
     * the up ramp, the same for every cycle and learner (n_s − 1 values). */
    double *tcl_pos;
    flexcl_code *codes; /* per local learner, from the last advance */
    char (*messages)[256]; /* their error messages (errors are thread-local) */
    /* Overlapped averaging: the averages started and not yet applied, oldest
     * first, in a ring of n_slots = ⌈D/A⌉ slots (blocking uses slot 0's
     * buffer): n_pending of them from slots[head] on. An average started at
     * t_k is applied at t_k + D; with D > A later ones start before it is
     * applied. */
    uint64_t delay; /* D: apply_at − step */
    avg_slot *slots;
    int n_slots, head, n_pending;
    /* Seconds spent waiting for averages (flexcl_learner_wait_seconds). */
    double wait_s;
    /* Averages applied so far. */
    flexcl_average_record *hist;
    size_t n_hist, cap_hist;
};

static void shuffle_epoch(core *c, size_t n)
{
    for (size_t k = 0; k < n; ++k) c->order[k] = k;
    /* Fisher-Yates with counter-based uniforms: (epoch, DATA, position). */
    for (size_t k = n; k > 1; --k) {
        double u = flexcl_stream_uniform1(&c->stream, c->epoch, FLEXCL_RNG_DATA, k);
        size_t j = (size_t)(u * (double)k);
        if (j >= k) j = k - 1;
        size_t tmp = c->order[k - 1];
        c->order[k - 1] = c->order[j];
        c->order[j] = tmp;
    }
}

/* Draw the next rows and tell the chain their indices (ops.bind_rows). */
static flexcl_code next_rows(core *c, const flexcl_data *d, size_t batch)
{
    size_t n = flexcl_data_rows(d);
    for (size_t b = 0; b < batch; ++b) {
        if (c->cursor == n) {
            c->epoch++;
            shuffle_epoch(c, n);
            c->cursor = 0;
        }
        c->row_idx[b] = c->order[c->cursor++];
        c->rows[b] = flexcl_data_row(d, c->row_idx[b]);
    }
    return flexcl_model_bind_rows(c->model, c->chain, c->row_idx, n);
}

/* Start a new phase: choose its type, length and data (SPEC §2). */
static flexcl_code begin_phase(flexcl_learner *l, core *c)
{
    flexcl_code err = FLEXCL_OK;
    const flexcl_estimator_settings *es = &l->es;
    double w_pos, w_neg;
    flexcl_estimator_weights(es->weights, es->b, &w_pos, &w_neg);
    if (es->kind == FLEXCL_EST_TWO_TERM) {
        c->phase = (c->phases % 2 == 0) ? FLEXCL_PHASE_POSITIVE : FLEXCL_PHASE_NEGATIVE;
    } else {
        double u = flexcl_stream_uniform1(&c->stream, c->t, FLEXCL_RNG_PHASE, 0);
        c->phase = u < es->b ? FLEXCL_PHASE_POSITIVE : FLEXCL_PHASE_NEGATIVE;
    }
    c->w = c->phase == FLEXCL_PHASE_POSITIVE ? w_pos : w_neg;
    double u_len = flexcl_stream_uniform1(&c->stream, c->t, FLEXCL_RNG_LENGTH, 0);
    c->remaining = flexcl_phase_length(es->law, es->tau, es->uniform_halfwidth, u_len);
    if (c->phase == FLEXCL_PHASE_POSITIVE) {
        FLEXCL_CALL(next_rows(c, l->data, (size_t)es->batch));
        FLEXCL_CALL(flexcl_model_phase_begin(c->model, c->chain, c->phase, c->rows,
                                             &c->stream, c->t));
    } else if (es->kind == FLEXCL_EST_TWO_TERM && !es->persistent) {
        /* CD-K: the negative phase restarts at the positive phase's rows. */
        FLEXCL_CALL(flexcl_model_chain_reset(c->model, c->chain, c->rows));
    } else {
        flexcl_chain *ch = c->neg_chain ? c->neg_chain : c->chain;
        FLEXCL_CALL(flexcl_model_phase_begin(c->model, ch, c->phase, NULL,
                                             &c->stream, c->t));
    }
done:
    return err;
}

/* The phase just ended: make the estimator's end-of-phase update. */
static void end_phase(flexcl_learner *l, core *c, flexcl_chain *ch)
{
    const flexcl_estimator_settings *es = &l->es;
    double *theta = flexcl_model_params(c->model);
    c->phases++;
    switch (es->kind) {
    case FLEXCL_EST_ISD:
        flexcl_optim_zero(c->opt, c->g);
        flexcl_model_stats_axpy(c->model, ch, c->phase, c->w, c->g);
        flexcl_optim_apply(c->opt, theta, c->g, es->eta);
        c->updates++;
        break;
    case FLEXCL_EST_TWO_TERM:
        /* G⁺ is held in g itself until the negative phase ends (no second
         * buffer, no copy: a 784x500 RBM's g is 3 MB). */
        if (c->phase == FLEXCL_PHASE_POSITIVE) {
            flexcl_optim_zero(c->opt, c->g);
            flexcl_model_stats_axpy(c->model, ch, c->phase, 1.0, c->g);
        } else {
            flexcl_model_stats_axpy(c->model, ch, c->phase, -1.0, c->g);
            flexcl_optim_apply(c->opt, theta, c->g, es->eta);
            c->updates++;
        }
        break;
    case FLEXCL_EST_AOL:
        break; /* AoL updated at every step */
    case FLEXCL_EST_TCL:
        break; /* tcl_advance runs its own cycle */
    }
}

/* ---- temporal CL (kind tcl) ------------------------------------------------
 *
 * One cycle = one sawtooth over the next data rows (flexcl/tcl.h): a
 * positive phase begun with the rows at nudge level 0 (free dynamics with
 * the inputs clamped) for F = estimator.tau steps, run as the model's
 * free-running (negative-phase) steps so that per-example free states
 * persist as under two_term, then ramp points n = 1,
 * 2, … each set the nudge level r_n and run R = tcl.relax steps. The phase
 * statistic G (stats_axpy, w = 1) read at the end of the free phase (n = 0)
 * and after every ramp point is the synaptic current s_n; it is filtered
 * per parameter by the memory, u_n = (K * s)_n, and the cycle's update is
 *     θ += η · Σ_n g(u_n) dt / τ_K            (τ_K the effective kernel time)
 * applied once at the end of the cycle through the optimiser, so that a
 * current difference A = s_clamped − s_free inside the learning window
 * moves θ by η·A, as two_term's θ += η (G⁺ − G⁻) does. The memory is
 * adapted to the free state's current at n = 0 of every cycle (the free
 * phase is taken as long against τ_K), so the switch of data rows between
 * cycles is not itself a signal. With tcl.down = interpolate the model runs
 * the up ramp only (n = 1 … n_f) and the down-ramp currents are linear
 * interpolations of the up ramp's at the same level (the authors' "no
 * hysteresis"); with run it runs every ramp point n = 1 … N − 1. */

static size_t tcl_n_up(const flexcl_tcl_settings *t) { return (size_t)llround(t->tau_fast / t->dt); }
static size_t tcl_n_down(const flexcl_tcl_settings *t) { return (size_t)llround(t->tau_slow / t->dt); }

/* Model steps of one cycle: free phase plus the ramp points the model runs. */
static uint64_t tcl_cycle_steps(const flexcl_estimator_settings *es)
{
    const flexcl_tcl_settings *t = &es->tcl;
    size_t N = tcl_n_up(t) + tcl_n_down(t);
    size_t run = t->down == FLEXCL_TCL_DOWN_RUN ? N - 1 : tcl_n_up(t);
    return (uint64_t)llround(es->tau) + (uint64_t)run * (uint64_t)t->relax;
}

/* Push current s through the memory and add its gated response, weighted
 * dt/τ_K, to the cycle's update direction c->g. */
static void tcl_push(flexcl_learner *l, core *c, const double *s)
{
    const flexcl_tcl_settings *t = &l->es.tcl;
    flexcl_tcl_memory_step_gated(c->mem, s, t->threshold, t->dt / flexcl_tcl_kernel_tau(t),
                                 c->g);
}

static flexcl_code tcl_advance(flexcl_learner *l, core *c, uint64_t n)
{
    flexcl_code err = FLEXCL_OK;
    const flexcl_estimator_settings *es = &l->es;
    const flexcl_tcl_settings *t = &es->tcl;
    const size_t P = l->P, n_up = tcl_n_up(t), N = n_up + tcl_n_down(t);
    const uint64_t F = (uint64_t)llround(es->tau), R = (uint64_t)t->relax;
    const uint64_t L = tcl_cycle_steps(es);
    const int interp = t->down == FLEXCL_TCL_DOWN_INTERPOLATE;
    for (uint64_t k = 0; k < n; ++k) {
        const uint64_t p = c->cyc;
        if (p == 0) {
            FLEXCL_CALL(next_rows(c, l->data, (size_t)es->batch));
            FLEXCL_CALL(flexcl_model_phase_begin(c->model, c->chain, FLEXCL_PHASE_POSITIVE,
                                                 c->rows, &c->stream, c->t));
            FLEXCL_CALL(flexcl_model_nudge(c->model, c->chain, 0.0));
            flexcl_optim_zero(c->opt, c->g);
        }
        if (p >= F && (p - F) % R == 0) {
            size_t j = (size_t)((p - F) / R) + 1; /* the ramp point being relaxed */
            double r = j <= n_up ? (double)j / (double)n_up
                                 : 1.0 - (double)(j - n_up) / (double)(N - n_up);
            FLEXCL_CALL(flexcl_model_nudge(c->model, c->chain, r));
        }
        /* The free phase runs the model's free (negative-phase) dynamics at
         * level 0, so a model with per-example free states (eqprop) keeps
         * them across cycles as under two_term; the ramp runs the positive
         * phase at the nudge level. */
        const flexcl_phase ph = p < F ? FLEXCL_PHASE_NEGATIVE : FLEXCL_PHASE_POSITIVE;
        FLEXCL_CALL(flexcl_model_step(c->model, c->chain, ph, &c->stream, c->t));
        c->t++;
        c->cyc = p + 1;
        if (c->cyc < F || (c->cyc - F) % R != 0) continue;
        /* Sample j of the cycle: read the current. */
        const size_t j = (size_t)((c->cyc - F) / R);
        memset(c->s_now, 0, P * sizeof *c->s_now);
        flexcl_model_stats_axpy(c->model, c->chain, FLEXCL_PHASE_POSITIVE, 1.0, c->s_now);
        if (j == 0) flexcl_tcl_memory_reset(c->mem, c->s_now);
        if (interp) memcpy(c->s_up + j * P, c->s_now, P * sizeof *c->s_now);
        tcl_push(l, c, c->s_now);
        if (interp && j == n_up) {
            /* The down ramp, samples n_f + 1 … N − 1: the up ramp's currents
             * interpolated at their levels r_n, i.e. at up-sample position
             * r_n·n_f (l->tcl_pos). */
            flexcl_tcl_memory_feed_interp(c->mem, c->s_up, n_up + 1, l->tcl_pos, N - n_up - 1,
                                          t->threshold, t->dt / flexcl_tcl_kernel_tau(t), c->g);
        }
        if (c->cyc == L) {
            flexcl_optim_apply(c->opt, flexcl_model_params(c->model), c->g, es->eta);
            c->updates++;
            c->phases++;
            c->cyc = 0;
        }
    }
done:
    return err;
}

/* Advance one core by n time steps. */
static flexcl_code core_advance(flexcl_learner *l, core *c, uint64_t n)
{
    flexcl_code err = FLEXCL_OK;
    const flexcl_estimator_settings *es = &l->es;
    double aol_lr = es->eta / es->tau;
    if (es->kind == FLEXCL_EST_TCL) return tcl_advance(l, c, n);
    for (uint64_t k = 0; k < n; ++k) {
        if (c->remaining == 0) FLEXCL_CALL(begin_phase(l, c));
        flexcl_chain *ch = (c->phase == FLEXCL_PHASE_NEGATIVE && c->neg_chain)
                               ? c->neg_chain : c->chain;
        FLEXCL_CALL(flexcl_model_step(c->model, ch, c->phase, &c->stream, c->t));
        if (es->kind == FLEXCL_EST_AOL) {
            flexcl_optim_zero(c->opt, c->g);
            flexcl_model_stats_axpy(c->model, ch, c->phase, c->w, c->g);
            flexcl_optim_apply(c->opt, flexcl_model_params(c->model), c->g, aol_lr);
            c->updates++;
        }
        c->t++;
        if (--c->remaining == 0) end_phase(l, c, ch);
    }
done:
    return err;
}

static void core_free(core *c)
{
    flexcl_model_destroy(&c->model);
    flexcl_chain_destroy(&c->chain);
    flexcl_chain_destroy(&c->neg_chain);
    flexcl_optim_destroy(&c->opt);
    flexcl_tcl_memory_destroy(&c->mem);
    free(c->s_up);
    free(c->s_now);
    free(c->g);
    free(c->order);
    free(c->rows);
    free(c->row_idx);
}

/* ---- averaging ----------------------------------------------------------- */

/* The slices of θ and the MPI_Ialltoallw's arguments (avg_slot); its
 * displacements are ints (bytes on the receive side), checked here. Local
 * (the communicators are made in create). */
static flexcl_code slices_create(flexcl_learner *l)
{
    flexcl_code err = FLEXCL_OK;
    const size_t R = (size_t)l->size, L = (size_t)l->L, P = l->P;
    int *blen = NULL, *disp = NULL;
    /* The receive side's byte displacements: the last is (R − 1)·(L·n + 1)
     * doubles, n at most ⌈P/R⌉ (the same answer on every rank). */
    const size_t n_max = P / R + (P % R != 0);
    FLEXCL_CHECK((R - 1) * (L * n_max + 1) <= (size_t)INT_MAX / sizeof(double), FLEXCL_ERR_ARG,
                 "the sliced exchange of %zu ranks x %zu learners x %zu parameters exceeds "
                 "MPI's int byte displacements; use run.average_exchange = allgather",
                 R, L, P);
    FLEXCL_ALLOC(l->slice_n, R);
    FLEXCL_ALLOC(l->slice_off, R);
    FLEXCL_ALLOC(l->a2a_one, R);
    FLEXCL_ALLOC(l->a2a_zero, R);
    FLEXCL_ALLOC(l->a2a_rcount, R);
    FLEXCL_ALLOC(l->a2a_rdispl, R);
    FLEXCL_ALLOC(l->a2a_double, R);
    FLEXCL_ALLOC(l->a2a_type, R);
    for (size_t r = 0; r < R; ++r) l->a2a_type[r] = MPI_DATATYPE_NULL;
    for (size_t r = 0, off = 0; r < R; ++r) {
        const size_t n = P / R + (r < P % R);
        l->slice_n[r] = (int)n;
        l->slice_off[r] = (int)off;
        off += n;
    }
    l->n = (size_t)l->slice_n[l->rank];
    l->off = (size_t)l->slice_off[l->rank];
    FLEXCL_ALLOC(blen, L + 1);
    FLEXCL_ALLOC(disp, L + 1);
    for (size_t r = 0; r < R; ++r) {
        for (size_t i = 0; i < L; ++i) {
            blen[i] = l->slice_n[r];
            disp[i] = (int)(i * P) + l->slice_off[r];
        }
        blen[L] = 1; /* the flag */
        disp[L] = (int)(L * P);
        FLEXCL_MPI(MPI_Type_indexed((int)L + 1, blen, disp, MPI_DOUBLE, &l->a2a_type[r]));
        FLEXCL_MPI(MPI_Type_commit(&l->a2a_type[r]));
        l->a2a_one[r] = 1;
        l->a2a_zero[r] = 0;
        l->a2a_rcount[r] = (int)(L * l->n + 1);
        l->a2a_rdispl[r] = (int)(r * (L * l->n + 1) * sizeof(double));
        l->a2a_double[r] = MPI_DOUBLE;
    }
done:
    free(blen);
    free(disp);
    return err;
}

static void slices_free(flexcl_learner *l)
{
    for (int r = 0; l->a2a_type && r < l->size; ++r)
        if (l->a2a_type[r] != MPI_DATATYPE_NULL) MPI_Type_free(&l->a2a_type[r]);
    free(l->a2a_type);
    free(l->a2a_double);
    free(l->a2a_rdispl);
    free(l->a2a_rcount);
    free(l->a2a_zero);
    free(l->a2a_one);
    free(l->slice_off);
    free(l->slice_n);
}

static flexcl_code slot_alloc(flexcl_learner *l, avg_slot *sl, int with_csnap, int shm)
{
    flexcl_code err = FLEXCL_OK;
    const size_t R = (size_t)l->size, L = (size_t)l->L, P = l->P;
    sl->req = MPI_REQUEST_NULL;
    sl->shm = shm;
    if (shm) {
        sl->gather = sl->snap = NULL; /* bound per average (shm_bind) */
    } else if (l->sliced) {
        FLEXCL_ALLOC(sl->snap, L * P + 1);
        FLEXCL_ALLOC(sl->recv, R * (L * l->n + 1));
    } else {
        FLEXCL_ALLOC(sl->gather, R * (L * P + 1));
        sl->snap = sl->gather + (size_t)l->rank * (L * P + 1);
    }
    FLEXCL_ALLOC(sl->mu, P);
    FLEXCL_ALLOC(sl->sq, 8 * R * L); /* allgather: flexcl_kern_mean_spread's lanes */
    if (with_csnap) FLEXCL_ALLOC(sl->csnap, L * P);
done:
    return err;
}

static void slot_free(avg_slot *sl)
{
    if (!sl->shm) /* else both are the window's */
        free(sl->gather ? sl->gather : sl->snap);
    sl->gather = sl->snap = NULL;
    free(sl->recv);
    free(sl->mu);
    free(sl->sq);
    free(sl->csnap);
}

/* ---- the shared exchange --------------------------------------------------- */

/* Doubles of one rank's block: its learners' θ and its flag. */
static size_t block_doubles(const flexcl_learner *l) { return (size_t)l->L * l->P + 1; }

/* The node's window (see flexcl_learner): rank 0 allocates it, every rank
 * maps it, rank 0 clears the flags, and a barrier orders that before any
 * publication. Collective over l->comm. The passive-target epoch stays open
 * for the window's life; ranks synchronise through the flags' C11
 * release/acquire atomics, which are address-free (lock-free) here, so they
 * order memory between processes mapping the same pages. */
static flexcl_code shm_create(flexcl_learner *l)
{
    flexcl_code err = FLEXCL_OK;
    const size_t R = (size_t)l->size, NB = 2 * (size_t)l->n_slots, bs = block_doubles(l);
    const size_t data = NB * R * bs * sizeof(double);
    const size_t pad = (64 - data % 64) % 64;
    const size_t bytes = data + pad + NB * R * sizeof(shm_flag);
    MPI_Aint size = 0;
    int disp = 0, flag = 0, *model = NULL;
    void *mine = NULL, *base = NULL;
    shm_flag probe;
    /* These two give the same answer on every rank (the same sizes, one
     * machine): every rank leaves here before the first collective, or
     * none does. */
    FLEXCL_CHECK(atomic_is_lock_free(&probe.seq), FLEXCL_ERR_ARG,
                 "run.average_exchange = shared needs lock-free 64-bit atomics, which this "
                 "machine lacks; use allgather");
    FLEXCL_CHECK(bytes <= (size_t)PTRDIFF_MAX, FLEXCL_ERR_ARG,
                 "the shared averaging window of %zu bytes is too large", bytes);
    l->shm_nb = (int)NB;
    FLEXCL_MPI(MPI_Win_allocate_shared(l->rank == 0 ? (MPI_Aint)bytes : 0, 1, MPI_INFO_NULL,
                                       l->comm, &mine, &l->win));
    l->win_ok = 1;
    /* From here every rank makes the same collective calls (the lock and
     * the barrier) whatever fails locally; the caller agrees on failures. */
    int rc = MPI_Win_set_errhandler(l->win, MPI_ERRORS_RETURN);
    if (rc == MPI_SUCCESS) rc = MPI_Win_shared_query(l->win, 0, &size, &disp, &base);
    if (rc == MPI_SUCCESS) rc = MPI_Win_get_attr(l->win, MPI_WIN_MODEL, &model, &flag);
    if (rc != MPI_SUCCESS)
        err = flexcl_error_set(FLEXCL_ERR_MPI, __FILE__, __LINE__, __func__,
                               "querying the shared averaging window failed");
    else if ((size_t)size != bytes || base == NULL)
        err = flexcl_error_set(FLEXCL_ERR_MPI, __FILE__, __LINE__, __func__,
                               "the shared averaging window maps %lld bytes, not %zu",
                               (long long)size, bytes);
    else if (!flag || *model != MPI_WIN_UNIFIED)
        /* Plain loads and stores see each other only in the unified model. */
        err = flexcl_error_set(FLEXCL_ERR_ARG, __FILE__, __LINE__, __func__,
                               "this MPI's shared windows use the separate memory model; use "
                               "run.average_exchange = allgather");
    if (err == FLEXCL_OK) {
        l->shm_base = base;
        l->shm_flags = (shm_flag *)((char *)base + data + pad);
        if (l->rank == 0)
            for (size_t k = 0; k < NB * R; ++k) atomic_init(&l->shm_flags[k].seq, 0);
    }
    /* The epoch is what MPI_Win_sync needs; flexcl orders through the
     * flags' atomics and keeps it open for the window's life. */
    if (MPI_Win_lock_all(MPI_MODE_NOCHECK, l->win) == MPI_SUCCESS) l->win_locked = 1;
    else if (err == FLEXCL_OK)
        err = flexcl_error_set(FLEXCL_ERR_MPI, __FILE__, __LINE__, __func__,
                               "MPI_Win_lock_all on the shared averaging window failed");
    /* Rank 0's cleared flags before anyone's publication. */
    if (MPI_Barrier(l->comm) != MPI_SUCCESS && err == FLEXCL_OK)
        err = flexcl_error_set(FLEXCL_ERR_MPI, __FILE__, __LINE__, __func__,
                               "MPI_Barrier after mapping the shared averaging window failed");
done:
    (void)mine;
    return err;
}

/* Collective (MPI_Win_free, which synchronises); every average must be
 * complete. */
static void shm_free(flexcl_learner *l)
{
    if (!l->win_ok) return;
    if (l->win_locked) MPI_Win_unlock_all(l->win);
    MPI_Win_free(&l->win);
    l->win_ok = l->win_locked = 0;
    l->shm_base = NULL;
    l->shm_flags = NULL;
}

/* The shared buffer of the average started at step t (a multiple of A):
 * this slot's gather and this rank's block in it. */
static void shm_bind(flexcl_learner *l, avg_slot *sl, uint64_t t)
{
    if (!sl->shm) return;
    const size_t R = (size_t)l->size, bs = block_doubles(l);
    sl->buf = (size_t)((t / l->ls.average_every) % (uint64_t)l->shm_nb);
    sl->gather = l->shm_base + sl->buf * R * bs;
    sl->snap = sl->gather + (size_t)l->rank * bs;
    sl->seq = t + 1;
}

/* This rank's block of a bound slot is written: publish it (release). */
static void shm_publish(flexcl_learner *l, avg_slot *sl)
{
    atomic_store_explicit(&l->shm_flags[sl->buf * (size_t)l->size + (size_t)l->rank].seq,
                          sl->seq, memory_order_release);
}

/* A flag value no average publishes: its rank has stopped the shared
 * averages after finding a buffer overwritten (shm_ready). */
#define SHM_POISON UINT64_MAX

/* Whether every rank has published the slot's average (*ready); with
 * wait = 1, spin until it has, yielding the core after a short spin (ranks
 * may share cores). As MPI_Wait, it waits for ever for a rank that never
 * publishes (one that failed alone outside the failure protocol). A flag
 * beyond the slot's seq means that a rank overwrote a buffer still in use
 * (a broken reuse rule, never expected): this rank then poisons its flags,
 * so the ranks waiting for it fail too instead of waiting for ever, and
 * reports an internal error instead of reading the buffer. */
static flexcl_code shm_ready(flexcl_learner *l, const avg_slot *sl, int wait, int *ready)
{
    flexcl_code err = FLEXCL_OK;
    const size_t R = (size_t)l->size;
    const shm_flag *f = l->shm_flags + sl->buf * R;
    size_t r = 0;
    for (unsigned spins = 0;;) {
        while (r < R) {
            uint64_t v = atomic_load_explicit(&f[r].seq, memory_order_acquire);
            if (v > sl->seq) {
                for (size_t b = 0; b < (size_t)l->shm_nb; ++b)
                    atomic_store_explicit(&l->shm_flags[b * R + (size_t)l->rank].seq, SHM_POISON,
                                          memory_order_release);
                FLEXCL_CHECK(v != SHM_POISON, FLEXCL_ERR_INTERNAL,
                             "rank %zu stopped the shared averages (a buffer was overwritten "
                             "while in use)", r);
                FLEXCL_FAIL(FLEXCL_ERR_INTERNAL,
                            "shared averaging buffer %zu: rank %zu published step %llu while the "
                            "average of step %llu was in flight",
                            sl->buf, r, (unsigned long long)(v - 1),
                            (unsigned long long)(sl->seq - 1));
            }
            if (v != sl->seq) break;
            ++r;
        }
        if (r == R || !wait) break;
        if (++spins > 64) sched_yield();
    }
    *ready = r == R;
done:
    return err;
}

/* Collectives per average: 1 (allgather) or 3 (sliced). */
static int n_stages(const flexcl_learner *l) { return l->sliced ? 3 : 1; }

/* Start the slot's next collective (the first: snap holds the learners' θ
 * and the flag; a later one: the previous is complete). */
static flexcl_code slot_start_next(flexcl_learner *l, avg_slot *sl)
{
    flexcl_code err = FLEXCL_OK;
    const size_t L = (size_t)l->L, P = l->P, rs = L * l->n + 1;
    switch (sl->started) {
    case 0:
        sl->flagged = 0;
        if (sl->shm)
            shm_publish(l, sl);
        else if (l->sliced)
            FLEXCL_MPI(MPI_Ialltoallw(sl->snap, l->a2a_one, l->a2a_zero, l->a2a_type, sl->recv,
                                      l->a2a_rcount, l->a2a_rdispl, l->a2a_double, l->comm,
                                      &sl->req));
        else
            FLEXCL_MPI(MPI_Iallgather(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, sl->gather,
                                      (int)(L * P + 1), MPI_DOUBLE, l->comm, &sl->req));
        break;
    case 1: /* sliced: this rank's slice of the mean */
        flexcl_kern_mean(sl->recv, (size_t)l->size, L, rs, l->n, sl->mu + l->off);
        FLEXCL_MPI(MPI_Iallgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, sl->mu, l->slice_n,
                                   l->slice_off, MPI_DOUBLE, l->comm_mu, &sl->req));
        break;
    case 2: { /* sliced: this rank's learners' distances to the mean */
        double *mine = sl->sq + (size_t)l->rank * L;
        for (size_t i = 0; i < L; ++i) mine[i] = flexcl_kern_sqdist(sl->snap + i * P, sl->mu, P);
        FLEXCL_MPI(MPI_Iallgather(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, sl->sq, (int)L, MPI_DOUBLE,
                                  l->comm_sq, &sl->req));
        break;
    }
    default:
        FLEXCL_FAIL(FLEXCL_ERR_INTERNAL, "averaging slot started %d collectives", sl->started);
    }
    sl->started++;
done:
    return err;
}

/* The slot's collective number `done` has just completed. After the
 * first, every rank holds every rank's flag (in R blocks ending with it),
 * so all end a flagged slot here; the allgather's mean and distances are
 * summed once its one collective is in. */
static void slot_completed(flexcl_learner *l, avg_slot *sl)
{
    const size_t R = (size_t)l->size, L = (size_t)l->L, P = l->P;
    if (sl->done != 1) return;
    const double *blocks = l->sliced ? sl->recv : sl->gather;
    const size_t bs = l->sliced ? L * l->n + 1 : L * P + 1;
    for (size_t r = 0; r < R; ++r) sl->flagged |= blocks[r * bs + bs - 1] != 0.0;
    if (sl->flagged) sl->started = sl->done = n_stages(l);
    else if (!l->sliced) flexcl_kern_mean_spread(sl->gather, R, L, bs, P, sl->mu, sl->sq);
}

/* Advance a slot through its collectives: as far as they have completed
 * (wait = 0) or to its end (wait = 1). It starts its k-th collective only
 * once `prev`, the slot started before it (NULL: none pending), has started
 * its k-th, so the collectives of each communicator start in the same order
 * on every rank. With wait = 1, prev must be complete. */
static flexcl_code slot_progress(flexcl_learner *l, avg_slot *sl, const avg_slot *prev, int wait)
{
    flexcl_code err = FLEXCL_OK;
    const int N = n_stages(l);
    FLEXCL_CHECK(sl->started > 0, FLEXCL_ERR_INTERNAL, "an average never started is waited for");
    while (sl->done < N) {
        if (sl->done < sl->started) {
            int flag = 1;
            const double t0 = wait ? MPI_Wtime() : 0.0;
            if (sl->shm) FLEXCL_CALL(shm_ready(l, sl, wait, &flag));
            else if (wait) FLEXCL_MPI(MPI_Wait(&sl->req, MPI_STATUS_IGNORE));
            else FLEXCL_MPI(MPI_Test(&sl->req, &flag, MPI_STATUS_IGNORE));
            if (wait) l->wait_s += MPI_Wtime() - t0;
            if (!flag) break;
            sl->done = sl->started;
            slot_completed(l, sl);
            continue;
        }
        if (prev && prev->started <= sl->started) {
            FLEXCL_CHECK(!wait, FLEXCL_ERR_INTERNAL, "averaging slots completed out of order");
            break;
        }
        FLEXCL_CALL(slot_start_next(l, sl));
    }
done:
    return err;
}

/* RMS distances of the G rows to the mean from their squared distances:
 * mean and max over rows, summed in row order. */
static void spread_of(const double *sq, size_t G, size_t P, double *rms_mean, double *rms_max)
{
    double sum = 0.0, mx = 0.0;
    for (size_t k = 0; k < G; ++k) {
        double r = sqrt(sq[k] / (double)P);
        sum += r;
        if (r > mx) mx = r;
    }
    *rms_mean = sum / (double)G;
    *rms_max = mx;
}

/* The j-th pending average, oldest first. */
static avg_slot *pending_slot(flexcl_learner *l, int j)
{
    return &l->slots[(l->head + j) % l->n_slots];
}

/* Let every pending average's collectives progress (wait = 0) or complete
 * them all (wait = 1), oldest first. */
static flexcl_code progress_all(flexcl_learner *l, int wait)
{
    flexcl_code err = FLEXCL_OK;
    const avg_slot *prev = NULL;
    for (int j = 0; j < l->n_pending; ++j) {
        avg_slot *sl = pending_slot(l, j);
        FLEXCL_CALL(slot_progress(l, sl, prev, wait));
        prev = sl;
    }
done:
    return err;
}

static flexcl_code wait_all(flexcl_learner *l) { return progress_all(l, 1); }

/* Every rank of comm learns whether one failed (local != FLEXCL_OK); the
 * others return FLEXCL_ERR_INTERNAL with `others`. Collective. */
static flexcl_code agree_on(MPI_Comm comm, flexcl_code local, const char *others)
{
    int bad = local != FLEXCL_OK, any = 0;
    if (MPI_Allreduce(&bad, &any, 1, MPI_INT, MPI_MAX, comm) != MPI_SUCCESS)
        return flexcl_error_set(FLEXCL_ERR_MPI, __FILE__, __LINE__, __func__,
                                "MPI_Allreduce agreeing on the learners' state failed");
    if (any && !bad)
        return flexcl_error_set(FLEXCL_ERR_INTERNAL, __FILE__, __LINE__, __func__, "%s", others);
    return local;
}

flexcl_code flexcl_learner_create(MPI_Comm comm, const flexcl_learner_settings *ls,
                                  const flexcl_model_settings *ms,
                                  const flexcl_estimator_settings *es,
                                  const flexcl_optim_settings *os,
                                  const flexcl_data *data, int same_init,
                                  flexcl_learner **out)
{
    flexcl_code err = FLEXCL_OK;
    flexcl_learner *l = NULL;
    int local_ok = 1, all_ok = 0, agreed = 0, node_size = 0;
    FLEXCL_CHECK(ls->learners_per_rank >= 1, FLEXCL_ERR_ARG,
                 "learners_per_rank must be >= 1, got %d", ls->learners_per_rank);
    FLEXCL_CHECK(ls->averaging == FLEXCL_AVERAGING_BLOCKING ||
                     ls->averaging == FLEXCL_AVERAGING_OVERLAPPED,
                 FLEXCL_ERR_ARG, "averaging must be blocking or overlapped, got %d",
                 (int)ls->averaging);
    FLEXCL_CHECK(flexcl_averaging_delay_allowed(ls->average_delay, ls->average_every),
                 FLEXCL_ERR_ARG, "average_delay %llu exceeds %d x average_every %llu",
                 (unsigned long long)ls->average_delay, FLEXCL_AVERAGING_MAX_PERIODS,
                 (unsigned long long)ls->average_every);
    FLEXCL_CHECK(es->b > 0.0 && es->b < 1.0, FLEXCL_ERR_ARG,
                 "estimator b must be in (0, 1), got %g", es->b);
    FLEXCL_CHECK(es->eta > 0.0 && es->tau >= 1.0 && es->batch >= 1, FLEXCL_ERR_ARG,
                 "estimator needs eta > 0, tau >= 1 and batch >= 1");
    FLEXCL_CHECK(flexcl_data_rows(data) > 0, FLEXCL_ERR_ARG, "the data set is empty");
    {
        const flexcl_model_ops *ops = flexcl_model_lookup(ms->kind);
        FLEXCL_CHECK(!(ops && (ops->needs & FLEXCL_MODEL_NEEDS_ROW_EVERY_PHASE) &&
                       es->kind == FLEXCL_EST_TWO_TERM && es->persistent),
                     FLEXCL_ERR_ARG,
                     "estimator.persistent: 1 runs the negative phase on a separate chain "
                     "without the example's input, which model.kind = %s needs in both phases",
                     ops ? ops->name : "?");
    }
    if (es->kind == FLEXCL_EST_TCL) {
        FLEXCL_CALL(flexcl_tcl_settings_check(&es->tcl));
        FLEXCL_CHECK(es->tcl.relax >= 1, FLEXCL_ERR_ARG, "tcl relax must be >= 1, got %d",
                     es->tcl.relax);
    }
    /* The checks above are agreed on before the first collective (the
     * MPI_Comm_dup below): a rank refusing alone must not leave the others
     * waiting in it. */
    agreed = 1;
    FLEXCL_CALL(agree_on(comm, FLEXCL_OK, "another rank refused the learner settings"));
    FLEXCL_ALLOC(l, 1);
    l->comm = l->comm_mu = l->comm_sq = MPI_COMM_NULL;
    l->win = MPI_WIN_NULL;
    FLEXCL_MPI(MPI_Comm_dup(comm, &l->comm));
    /* The sliced exchange's communicators, here: MPI_Comm_dup is collective,
     * and from here on a rank may fail alone until the agreement at the end. */
    FLEXCL_MPI(MPI_Comm_dup(l->comm, &l->comm_mu));
    FLEXCL_MPI(MPI_Comm_dup(l->comm, &l->comm_sq));
    FLEXCL_MPI(MPI_Comm_rank(l->comm, &l->rank));
    FLEXCL_MPI(MPI_Comm_size(l->comm, &l->size));
    {
        /* Every rank on one node: its shared-memory communicator is the
         * whole communicator (the same answer on every rank). */
        MPI_Comm node = MPI_COMM_NULL;
        FLEXCL_MPI(MPI_Comm_split_type(l->comm, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node));
        FLEXCL_MPI(MPI_Comm_size(node, &node_size));
        MPI_Comm_free(&node);
    }
    l->ls = *ls;
    l->delay = ls->average_delay ? ls->average_delay : flexcl_averaging_delay(ls->average_every);
    l->es = *es;
    l->data = data;
    l->L = ls->learners_per_rank;
    FLEXCL_ALLOC(l->cores, l->L);
    size_t n_rows = flexcl_data_rows(data);
    for (int i = 0; i < l->L; ++i) {
        core *c = &l->cores[i];
        uint64_t id = ls->id_offset + (uint64_t)l->rank * (uint64_t)l->L + (uint64_t)i;
        c->stream = flexcl_stream_make(ls->seed, ls->point, id);
        flexcl_stream init = same_init ? flexcl_stream_make(ls->seed, ls->point, 0)
                                       : c->stream;
        FLEXCL_CALL(flexcl_model_create(ms, flexcl_data_dim(data),
                                        flexcl_data_classes(data), &init, &c->model));
        l->P = flexcl_model_n_params(c->model);
        FLEXCL_CALL(flexcl_chain_create(c->model, (size_t)es->batch, &c->chain));
        if (es->kind == FLEXCL_EST_TWO_TERM && es->persistent)
            FLEXCL_CALL(flexcl_chain_create(c->model, (size_t)es->batch, &c->neg_chain));
        FLEXCL_CALL(flexcl_optim_create(os, l->P, flexcl_model_learnable(c->model),
                                        &c->opt));
        FLEXCL_ALLOC(c->g, l->P);
        FLEXCL_ALLOC(c->order, n_rows);
        FLEXCL_ALLOC(c->rows, (size_t)es->batch);
        FLEXCL_ALLOC(c->row_idx, (size_t)es->batch);
        if (es->kind == FLEXCL_EST_TCL) {
            FLEXCL_CALL(flexcl_tcl_memory_create(&es->tcl, l->P, &c->mem));
            FLEXCL_ALLOC(c->s_now, l->P);
            if (es->tcl.down == FLEXCL_TCL_DOWN_INTERPOLATE) {
                FLEXCL_ALLOC(c->s_up, (tcl_n_up(&es->tcl) + 1) * l->P);
            }
            /* Refuse a model without graded clamping now, not mid-run. */
            FLEXCL_CALL(flexcl_model_nudge(c->model, c->chain, 1.0));
        }
        shuffle_epoch(c, n_rows);
        /* Chains start at data rows (h = 0), the PCD chain too. */
        FLEXCL_CALL(next_rows(c, data, (size_t)es->batch));
        FLEXCL_CALL(flexcl_model_chain_reset(c->model, c->chain, c->rows));
        if (c->neg_chain) FLEXCL_CALL(flexcl_model_chain_reset(c->model, c->neg_chain, c->rows));
    }
    {
        const int one_node = node_size == l->size;
        flexcl_exchange ex = flexcl_exchange_choose(ls->exchange, l->size, l->L, l->P, one_node);
        FLEXCL_CHECK(ex != FLEXCL_EXCHANGE_SHARED || one_node, FLEXCL_ERR_ARG,
                     "run.average_exchange = shared needs every rank on one node, and these "
                     "%d ranks span several; use auto, allgather or sliced", l->size);
        l->sliced = ex == FLEXCL_EXCHANGE_SLICED;
        /* No window when nothing is averaged (the spread's exchange is
         * an allgather in every case). */
        l->shm = ex == FLEXCL_EXCHANGE_SHARED && ls->average_every > 0;
    }
    /* MPI's int counts (the allgather's, in doubles) and displacements
     * (the sliced all-to-all's, in bytes). */
    FLEXCL_CHECK((size_t)l->L * l->P + 1 <= (size_t)INT_MAX / sizeof(double), FLEXCL_ERR_ARG,
                 "averaging %d learners of %zu parameters per rank exceeds MPI's int counts "
                 "(learners_per_rank x parameters must stay below %zu)",
                 l->L, l->P, (size_t)INT_MAX / sizeof(double) - 1);
    if (l->sliced) FLEXCL_CALL(slices_create(l));
    /* Averages in flight at once: ⌈D/A⌉ (one for blocking and A = 0). */
    l->n_slots = 1;
    if (ls->averaging == FLEXCL_AVERAGING_OVERLAPPED && ls->average_every > 0)
        l->n_slots = (int)(l->delay / ls->average_every + (l->delay % ls->average_every != 0));
    FLEXCL_ALLOC(l->slots, (size_t)l->n_slots);
    for (int k = 0; k < l->n_slots; ++k)
        FLEXCL_CALL(slot_alloc(l, &l->slots[k], l->n_slots > 1, l->shm));
    if (l->n_slots > 1) FLEXCL_ALLOC(l->ccum, (size_t)l->L * l->P);
    if (es->kind == FLEXCL_EST_TCL && es->tcl.down == FLEXCL_TCL_DOWN_INTERPOLATE) {
        const size_t n_up = tcl_n_up(&es->tcl), N = n_up + tcl_n_down(&es->tcl);
        FLEXCL_ALLOC(l->tcl_pos, N - n_up);
        for (size_t m = n_up + 1; m < N; ++m)
            l->tcl_pos[m - n_up - 1] =
                (1.0 - (double)(m - n_up) / (double)(N - n_up)) * (double)n_up;
    }
    FLEXCL_ALLOC(l->codes, (size_t)l->L);
    FLEXCL_ALLOC(l->messages, (size_t)l->L);
done:
    /* Ranks agree on failure before anyone returns. */
    if (!agreed) (void)agree_on(comm, err, ""); /* a check above failed here */
    local_ok = err == FLEXCL_OK;
    if (l && l->comm != MPI_COMM_NULL) {
        MPI_Allreduce(&local_ok, &all_ok, 1, MPI_INT, MPI_LAND, l->comm);
        if (local_ok && !all_ok)
            err = flexcl_error_set(FLEXCL_ERR_MPI, __FILE__, __LINE__, __func__,
                                   "another rank failed to create its learners");
        /* The shared window, once every rank has its learners (collective;
         * l->shm is the same on every rank). */
        if (all_ok && l->shm)
            err = agree_on(l->comm, shm_create(l),
                           "another rank failed to map the shared averaging window");
    }
    if (err == FLEXCL_OK) *out = l;
    else flexcl_learner_destroy(&l);
    return err;
}

void flexcl_learner_destroy(flexcl_learner **lp)
{
    if (!lp || !*lp) return;
    flexcl_learner *l = *lp;
    /* Every rank started the same overlapped averages, so every rank can
     * complete them here (every collective of each, oldest first). */
    int active = 0; /* a collective may still use the buffers: keep them */
    if (l->slots && wait_all(l) != FLEXCL_OK) {
        flexcl_error_clear();
        active = 1;
    }
    if (!active) {
        for (int k = 0; l->slots && k < l->n_slots; ++k) slot_free(&l->slots[k]);
        free(l->slots);
        slices_free(l);
        shm_free(l);
    }
    if (l->cores)
        for (int i = 0; i < l->L; ++i) core_free(&l->cores[i]);
    free(l->cores);
    free(l->ccum);
    free(l->tcl_pos);
    free(l->codes);
    free(l->messages);
    free(l->hist);
    if (l->comm_mu != MPI_COMM_NULL) MPI_Comm_free(&l->comm_mu);
    if (l->comm_sq != MPI_COMM_NULL) MPI_Comm_free(&l->comm_sq);
    if (l->comm != MPI_COMM_NULL) MPI_Comm_free(&l->comm);
    free(l);
    *lp = NULL;
}

/* ---- averaging: starting and applying ------------------------------------ */

/* Take the oldest pending average off the ring (its collectives complete). */
static void pop_oldest(flexcl_learner *l)
{
    l->head = (l->head + 1) % l->n_slots;
    l->n_pending--;
}

/* Complete the oldest pending average's collectives and take it off the
 * ring (*sl: its slot, valid until the next start). When some rank flagged
 * it, every rank pops it at this same step: complete every other average
 * in flight too (all ranks started the same ones) and set *stop. */
static flexcl_code pop_complete(flexcl_learner *l, avg_slot **sl, int *stop)
{
    flexcl_code err = FLEXCL_OK;
    *sl = pending_slot(l, 0);
    FLEXCL_CALL(slot_progress(l, *sl, NULL, 1));
    pop_oldest(l);
    *stop = (*sl)->flagged;
    if (*stop) {
        FLEXCL_CALL(wait_all(l));
        l->n_pending = 0;
    }
done:
    return err;
}

/* Checkpoint dataset of the j-th pending average (oldest first): the
 * oldest keeps the name of the single average before D > A existed. */
static void pending_name(char *buf, size_t n, const char *base, int j)
{
    if (j == 0) snprintf(buf, n, "%s", base);
    else snprintf(buf, n, "%s_%d", base, j);
}

static flexcl_code push_record(flexcl_learner *l, uint64_t step, uint64_t applied,
                               double rms_mean, double rms_max)
{
    flexcl_code err = FLEXCL_OK;
    if (l->n_hist == l->cap_hist) {
        size_t cap = l->cap_hist ? 2 * l->cap_hist : 64;
        flexcl_average_record *h = realloc(l->hist, cap * sizeof *h);
        FLEXCL_CHECK(h != NULL, FLEXCL_ERR_NOMEM, "cannot grow the averaging history to %zu", cap);
        l->hist = h;
        l->cap_hist = cap;
    }
    l->hist[l->n_hist++] = (flexcl_average_record){step, applied, rms_mean, rms_max};
done:
    return err;
}

/* Every rank learns whether a rank failed before the next collective (an
 * average, a checkpoint write), so no rank waits in a collective the others
 * never reach; the ranks that did not fail report the failure. */
static flexcl_code agree_all(flexcl_learner *l, flexcl_code local)
{
    const double t0 = MPI_Wtime();
    flexcl_code err = agree_on(l->comm, local, "learners on another rank failed");
    l->wait_s += MPI_Wtime() - t0;
    return err;
}

/* This rank's learners' θ into a slot's snapshot, and the flag 0. */
static void copy_mine(flexcl_learner *l, avg_slot *sl)
{
    size_t P = l->P, L = (size_t)l->L;
    for (size_t i = 0; i < L; ++i)
        memcpy(sl->snap + i * P, flexcl_model_params(l->cores[i].model), P * sizeof(double));
    sl->snap[L * P] = 0.0;
}

/* Start a slot's average: its first collective (snap filled). */
static flexcl_code slot_begin(flexcl_learner *l, avg_slot *sl)
{
    sl->started = sl->done = 0;
    return slot_start_next(l, sl);
}

/* One average of the learners' θ as it is now, to its end, in `sl` (no
 * average may be pending: blocking averaging uses slot 0, the spread its
 * own slot after wait_all). Collective. */
static flexcl_code average_now(flexcl_learner *l, avg_slot *sl)
{
    flexcl_code err = FLEXCL_OK;
    copy_mine(l, sl);
    FLEXCL_CALL(slot_begin(l, sl));
    FLEXCL_CALL(slot_progress(l, sl, NULL, 1));
done:
    return err;
}

/* Blocking: θ_i ← μ for every learner, at step t. */
static flexcl_code average_blocking(flexcl_learner *l, uint64_t t)
{
    flexcl_code err = FLEXCL_OK;
    size_t P = l->P, L = (size_t)l->L;
    double rms_mean, rms_max;
    avg_slot *sl = &l->slots[0];
    shm_bind(l, sl, t);
    FLEXCL_CALL(average_now(l, sl));
    for (size_t i = 0; i < L; ++i)
        memcpy(flexcl_model_params(l->cores[i].model), sl->mu, P * sizeof(double));
    spread_of(sl->sq, L * (size_t)l->size, P, &rms_mean, &rms_max);
    FLEXCL_CALL(push_record(l, t, t, rms_mean, rms_max));
done:
    return err;
}

/* Overlapped, step t_k: snapshot and start the average's first collective
 * in the next free slot, whose flag says whether this rank has failed
 * (failed: its learners have; its snapshots are then meaningless and the
 * average is never applied). */
static flexcl_code average_start(flexcl_learner *l, uint64_t t, int failed)
{
    flexcl_code err = FLEXCL_OK;
    FLEXCL_CHECK(l->n_pending < l->n_slots, FLEXCL_ERR_INTERNAL,
                 "%d averages already in flight at step %llu (delay %llu)", l->n_pending,
                 (unsigned long long)t, (unsigned long long)l->delay);
    avg_slot *sl = pending_slot(l, l->n_pending);
    shm_bind(l, sl, t);
    if (!failed) copy_mine(l, sl);
    if (sl->csnap) memcpy(sl->csnap, l->ccum, (size_t)l->L * l->P * sizeof *sl->csnap);
    sl->snap[(size_t)l->L * l->P] = failed ? 1.0 : 0.0;
    FLEXCL_CALL(slot_begin(l, sl));
    sl->step = t;
    sl->apply_at = t + l->delay;
    l->n_pending++;
done:
    return err;
}

/* Overlapped, step t_k + D: the oldest pending average.
 * D <= A (nothing else pending): θ_i ← θ_i + (μ − s_i), s_i the snapshot.
 * D > A: averages started after t_k snapshotted θ_i before this delta, and
 * the ones started before t_k but applied after it moved θ_i after its
 * snapshot; so the delta is c_i = (μ − s_i) − a_i, a_i the deltas applied
 * to learner i since t_k, kept as the difference of the running sum C_i of
 * all deltas (ccum) and its value at the snapshot (csnap): θ_i ← θ_i + c_i,
 * C_i ← C_i + c_i. Each deviation from the mean is then corrected once: with
 * no learning between averages, every θ_i equals the first mean once the
 * first average is applied (tests/learners). The cost is two passes over
 * L·P (the snapshot of C, and C's update) whatever the number in flight.
 * Fails, applying nothing, when a rank had failed by t_k. */
static flexcl_code average_apply(flexcl_learner *l, uint64_t t)
{
    flexcl_code err = FLEXCL_OK;
    size_t P = l->P, L = (size_t)l->L;
    double rms_mean, rms_max;
    avg_slot *sl = NULL;
    int stop = 0;
    FLEXCL_CALL(pop_complete(l, &sl, &stop));
    FLEXCL_CHECK(!stop, FLEXCL_ERR_INTERNAL, "learners on another rank failed");
    spread_of(sl->sq, L * (size_t)l->size, P, &rms_mean, &rms_max);
    const double *snap = sl->snap;
    if (!sl->csnap) {
        for (size_t i = 0; i < L; ++i)
            flexcl_kern_correct(flexcl_model_params(l->cores[i].model), sl->mu, snap + i * P, P);
    } else {
        const double *restrict mu = sl->mu;
        for (size_t i = 0; i < L; ++i) {
            const double *restrict si = snap + i * P, *restrict c0 = sl->csnap + i * P;
            double *restrict th = flexcl_model_params(l->cores[i].model);
            double *restrict cc = l->ccum + i * P;
            for (size_t q = 0; q < P; ++q) {
                const double c = (mu[q] - si[q]) - (cc[q] - c0[q]);
                th[q] += c;
                cc[q] += c;
            }
        }
    }
    FLEXCL_CALL(push_record(l, sl->step, t, rms_mean, rms_max));
done:
    return err;
}

/* Overlapped averaging: while an average is in flight the learners run at
 * most POLL_STEPS steps between two MPI_Test calls. Open MPI 4.1 has no
 * asynchronous progress, so the collective advances only inside MPI calls;
 * polling lets it complete during the D stale steps instead of at the
 * MPI_Wait of step t_k + D. The chunks the learners run in never change
 * their results (they are the same for any cut of the steps). */
enum { POLL_STEPS = 16 };

/* Advance learner i by n steps; its error message is kept (errors are
 * thread-local). */
static void run_core(flexcl_learner *l, int i, uint64_t n)
{
    l->codes[i] = core_advance(l, &l->cores[i], n);
    if (l->codes[i] != FLEXCL_OK)
        snprintf(l->messages[i], sizeof l->messages[i], "%s", flexcl_error_message());
}

/* Advance every local learner by n steps, in parallel over learners when
 * OpenMP has more than one thread. An OpenMP region costs a team start even
 * with one thread, and overlapped averaging runs the learners in chunks of
 * POLL_STEPS steps, so the one-thread case runs a plain loop (measured: the
 * averaging benchmark at A = 100, 0.81 -> 0.87). Which thread runs a learner
 * never changes its results. */
static void run_cores(flexcl_learner *l, uint64_t n)
{
    const int L = l->L;
    if (L > 1 && omp_get_max_threads() > 1) {
#pragma omp parallel for schedule(dynamic, 1) default(none) shared(l, n, L)
        for (int i = 0; i < L; ++i) run_core(l, i, n);
    } else {
        for (int i = 0; i < L; ++i) run_core(l, i, n);
    }
}

/* Blocking averaging (and none): every rank agrees on failures at every
 * averaging point (agree_all), before the collective.
 * Overlapped averaging never blocks on the other ranks except at the
 * MPI_Wait of step t_k + D, whose collective every rank started at t_k, and
 * failures travel in that collective: a rank whose learners fail stops
 * running them but keeps to the schedule, starting every average from then
 * on with its failure flag set and applying none. The first average that
 * carries a flag is popped by every rank at the same step t_k + D; there
 * every rank completes the collectives in flight (all ranks started the
 * same ones, since all kept the schedule up to that step) and returns an
 * error. If the call ends first, the caller's agreement after it finds the
 * failure, and destroying the learners completes the same collectives on
 * every rank. So no rank ever waits in a collective that another rank never
 * starts, whatever D is (with D > A several averages are in flight). */
flexcl_code flexcl_learner_advance(flexcl_learner *l, uint64_t n)
{
    flexcl_code err = FLEXCL_OK;
    flexcl_code *codes = l->codes;
    uint64_t A = l->ls.average_every;
    int overlapped = l->ls.averaging == FLEXCL_AVERAGING_OVERLAPPED;
    flexcl_code failed = FLEXCL_OK; /* overlapped: this rank's first failure */
    while (n > 0) {
        /* All cores share one clock value (they advance by equal counts).
         * Run up to the next event: an averaging point or an application. */
        uint64_t t = l->cores[0].t;
        uint64_t chunk = n;
        if (A > 0 && A - t % A < chunk) chunk = A - t % A;
        const uint64_t apply_at = l->n_pending ? pending_slot(l, 0)->apply_at : 0;
        if (l->n_pending && apply_at - t < chunk) chunk = apply_at - t;
        int polling = 0;
        for (int j = 0; j < l->n_pending; ++j) polling |= pending_slot(l, j)->done < n_stages(l);
        if (polling && chunk > POLL_STEPS) chunk = POLL_STEPS;
        flexcl_code local = failed;
        if (failed == FLEXCL_OK) {
            const int L = l->L;
            run_cores(l, chunk);
            for (int i = 0; i < L && local == FLEXCL_OK; ++i)
                if (codes[i] != FLEXCL_OK)
                    local = flexcl_error_set(codes[i], __FILE__, __LINE__, __func__,
                                             "learner %d failed: %s",
                                             flexcl_learner_first_id(l) + i, l->messages[i]);
        }
        n -= chunk;
        t += chunk;
        /* Failed (overlapped): keep to the schedule without running the
         * learners, whose clocks stay on it (a failed one stopped early). */
        if (overlapped && local != FLEXCL_OK)
            for (int i = 0; i < l->L; ++i) l->cores[i].t = t;
        int at_apply = l->n_pending && t == apply_at;
        int at_point = A > 0 && t % A == 0;
        if (overlapped) {
            if (local != FLEXCL_OK) failed = local;
            if (at_apply) {
                if (failed != FLEXCL_OK) {
                    /* Never applied here; the first flagged one ends the
                     * call on every rank at the same step. */
                    avg_slot *sl = NULL;
                    int stop = 0;
                    FLEXCL_CALL(pop_complete(l, &sl, &stop));
                    if (stop) FLEXCL_CALL(failed);
                } else {
                    FLEXCL_CALL(average_apply(l, t));
                }
            }
            if (at_point) FLEXCL_CALL(average_start(l, t, failed != FLEXCL_OK));
            /* Let the collectives progress (no progress thread), and start
             * the next ones of the averages whose last one completed. */
            if (!at_apply && !at_point && polling) FLEXCL_CALL(progress_all(l, 0));
            continue;
        }
        if (!at_apply && !at_point) {
            FLEXCL_CALL(local);
            continue;
        }
        FLEXCL_CALL(agree_all(l, local));
        if (at_point) FLEXCL_CALL(average_blocking(l, t));
    }
    FLEXCL_CALL(failed);
done:
    return err;
}

int flexcl_learner_local_count(const flexcl_learner *l) { return l->L; }
int flexcl_learner_global_count(const flexcl_learner *l) { return l->L * l->size; }
int flexcl_learner_first_id(const flexcl_learner *l) { return l->rank * l->L; }
flexcl_exchange flexcl_learner_exchange(const flexcl_learner *l)
{
    return l->shm ? FLEXCL_EXCHANGE_SHARED
                  : l->sliced ? FLEXCL_EXCHANGE_SLICED : FLEXCL_EXCHANGE_ALLGATHER;
}
flexcl_model *flexcl_learner_model(flexcl_learner *l, int i) { return l->cores[i].model; }
uint64_t flexcl_learner_steps(const flexcl_learner *l, int i) { return l->cores[i].t; }
uint64_t flexcl_learner_phases(const flexcl_learner *l, int i) { return l->cores[i].phases; }
uint64_t flexcl_learner_updates(const flexcl_learner *l, int i) { return l->cores[i].updates; }
size_t flexcl_learner_n_averages(const flexcl_learner *l) { return l->n_hist; }
double flexcl_learner_wait_seconds(const flexcl_learner *l) { return l->wait_s; }
const flexcl_average_record *flexcl_learner_averages(const flexcl_learner *l) { return l->hist; }

flexcl_code flexcl_learner_spread(flexcl_learner *l, double *rms_mean, double *rms_max)
{
    flexcl_code err = FLEXCL_OK;
    avg_slot sl = {0};
    /* The averages in flight first: the spread's collectives must follow
     * theirs on every rank (completing them early changes nothing; each is
     * applied at its step). */
    int active = 0;
    FLEXCL_CALL(wait_all(l));
    FLEXCL_CALL(slot_alloc(l, &sl, 0, 0));
    active = 1;
    FLEXCL_CALL(average_now(l, &sl));
    active = 0;
    spread_of(sl.sq, (size_t)l->L * (size_t)l->size, l->P, rms_mean, rms_max);
done:
    if (!active) slot_free(&sl); /* else a collective may still use it */
    return err;
}

/* ---- checkpoints ---------------------------------------------------------- */

/* Columns of learner/clock. */
enum {
    CLK_T, CLK_PHASES, CLK_UPDATES, CLK_PHASE, CLK_REMAINING, CLK_CURSOR, CLK_EPOCH,
    CLK_OPTIM, CLK_N
};

/* The models' memory outside their chains (flexcl_model_memory_size; eqprop:
 * the per-example store): attribute `memory` = M, the longest over all
 * learners (0: no dataset follows), `learner/memory_size` uint64 [G] each
 * learner's length and `learner/memory` [G, M] the memories, zero-padded.
 * Every rank writes its own learners' rows. Collective. */
static flexcl_code memory_write(flexcl_learner *l, flexcl_checkpoint *ck)
{
    flexcl_code err = FLEXCL_OK;
    size_t L = (size_t)l->L, G = L * (size_t)l->size, first = (size_t)l->rank * L;
    unsigned long long mine = 0, M = 0;
    uint64_t *len = NULL;
    double *mem = NULL;
    flexcl_code e = FLEXCL_OK;
    for (size_t i = 0; i < L; ++i) {
        size_t n = flexcl_model_memory_size(l->cores[i].model);
        if (n > mine) mine = n;
    }
    FLEXCL_MPI(MPI_Allreduce(&mine, &M, 1, MPI_UNSIGNED_LONG_LONG, MPI_MAX, l->comm));
    FLEXCL_CALL(flexcl_checkpoint_set(ck, "memory", (uint64_t)M));
    if (M == 0) goto done;
    /* One buffer of L rows (eqprop on all of Fashion-MNIST: 245 MB per
     * learner); a rank that cannot allocate it fails on every rank. */
    len = malloc(L * sizeof *len);
    mem = L <= SIZE_MAX / sizeof *mem / (size_t)M ? calloc(L * (size_t)M, sizeof *mem) : NULL;
    if (!len || !mem)
        e = flexcl_error_set(FLEXCL_ERR_NOMEM, __FILE__, __LINE__, __func__,
                             "cannot allocate %zu x %llu doubles for the models' memory", L, M);
    else
        for (size_t i = 0; i < L; ++i) {
            len[i] = flexcl_model_memory_size(l->cores[i].model);
            flexcl_model_memory_get(l->cores[i].model, mem + i * (size_t)M);
        }
    FLEXCL_CALL(agree_all(l, e));
    FLEXCL_CALL(flexcl_checkpoint_write_u64(ck, "learner/memory_size", G, 1, first, L, len));
    FLEXCL_CALL(flexcl_checkpoint_write(ck, "learner/memory", G, (size_t)M, first, L, mem));
done:
    free(len);
    free(mem);
    return err;
}

/* Restore what memory_write saved, one learner's row at a time. A
 * checkpoint without the attribute `memory` (written before flexcl saved
 * model memory) restores only models that have none. Not collective. */
static flexcl_code memory_read(flexcl_learner *l, flexcl_checkpoint *ck)
{
    flexcl_code err = FLEXCL_OK;
    size_t L = (size_t)l->L, first = (size_t)l->rank * L;
    uint64_t M = 0, *len = NULL;
    double *mem = NULL;
    if (flexcl_checkpoint_get(ck, "memory", &M) != FLEXCL_OK) {
        flexcl_error_clear();
        for (size_t i = 0; i < L; ++i)
            FLEXCL_CHECK(flexcl_model_memory_size(l->cores[i].model) == 0, FLEXCL_ERR_DATA,
                         "%s: checkpoint without the model's memory (written by an older "
                         "flexcl): model '%s' cannot resume bitwise from it; remove it to start "
                         "the grid point over", flexcl_checkpoint_file(ck),
                         flexcl_model_name(l->cores[i].model));
        goto done;
    }
    if (M > 0) {
        FLEXCL_CHECK(M <= SIZE_MAX / sizeof *mem, FLEXCL_ERR_DATA,
                     "%s: model memory of %llu values", flexcl_checkpoint_file(ck),
                     (unsigned long long)M);
        FLEXCL_ALLOC(len, L);
        FLEXCL_ALLOC(mem, (size_t)M);
        FLEXCL_CALL(flexcl_checkpoint_read_u64(ck, "learner/memory_size", 1, first, L, len));
    }
    for (size_t i = 0; i < L; ++i) {
        flexcl_model *model = l->cores[i].model;
        size_t n = M > 0 ? (size_t)len[i] : 0;
        FLEXCL_CHECK(n <= M, FLEXCL_ERR_DATA, "%s: learner/memory_size of learner %zu is %zu, "
                     "more than the %llu stored", flexcl_checkpoint_file(ck), first + i, n,
                     (unsigned long long)M);
        if (n > 0)
            FLEXCL_CALL(flexcl_checkpoint_read(ck, "learner/memory", (size_t)M, first + i, 1,
                                               mem));
        flexcl_code e = flexcl_model_memory_set(model, mem, n);
        if (e != FLEXCL_OK) {
            char why[512];
            snprintf(why, sizeof why, "%s", flexcl_error_message());
            FLEXCL_FAIL(FLEXCL_ERR_DATA, "%s: cannot restore the memory of learner %zu: %s",
                        flexcl_checkpoint_file(ck), first + i, why);
        }
    }
done:
    free(len);
    free(mem);
    return err;
}

flexcl_code flexcl_learner_checkpoint_write(flexcl_learner *l, flexcl_checkpoint *ck)
{
    flexcl_code err = FLEXCL_OK;
    size_t P = l->P, L = (size_t)l->L, G = L * (size_t)l->size;
    size_t first = (size_t)l->rank * L, B = (size_t)l->es.batch;
    size_t S = flexcl_model_state_size(l->cores[0].model);
    size_t OS = flexcl_optim_state_size(l->cores[0].opt);
    int has_neg = l->cores[0].neg_chain != NULL;
    double *buf = NULL;
    uint64_t *u = NULL;
    size_t width = P > B * S ? P : B * S;
    if (OS > width) width = OS;
    FLEXCL_ALLOC(buf, L * width);
    FLEXCL_ALLOC(u, L * (CLK_N > B ? CLK_N : B));
    /* The TCL protocol's mid-cycle state (memory, up-ramp currents, cycle
     * position) is not saved: such runs refuse checkpoints, on every rank. */
    FLEXCL_CHECK(l->es.kind != FLEXCL_EST_TCL, FLEXCL_ERR_UNSUPPORTED,
                 "estimator tcl keeps a mid-cycle memory that checkpoints do not save: its "
                 "training runs cannot be checkpointed");
    /* Refuse early (and on every rank) when chains cannot be restored:
     * setting a chain's state to itself is a no-op when the model can. */
    {
        const core *c = &l->cores[0];
        flexcl_chain_state(c->model, c->chain, 0, buf);
        int ok = flexcl_chain_set_state(c->model, c->chain, 0, buf) == FLEXCL_OK, all = 0;
        FLEXCL_MPI(MPI_Allreduce(&ok, &all, 1, MPI_INT, MPI_LAND, l->comm));
        FLEXCL_CHECK(all, FLEXCL_ERR_UNSUPPORTED,
                     "model '%s' cannot restore chain states (no state_set operation): its "
                     "training runs cannot be checkpointed", flexcl_model_name(c->model));
    }
    FLEXCL_CALL(flexcl_checkpoint_set(ck, "learners", G));
    FLEXCL_CALL(flexcl_checkpoint_set(ck, "params", P));
    FLEXCL_CALL(flexcl_checkpoint_set(ck, "batch", B));
    FLEXCL_CALL(flexcl_checkpoint_set(ck, "state_size", S));
    FLEXCL_CALL(flexcl_checkpoint_set(ck, "optim_state", OS));
    FLEXCL_CALL(flexcl_checkpoint_set(ck, "average_every", l->ls.average_every));
    FLEXCL_CALL(flexcl_checkpoint_set(ck, "average_delay", l->delay));
    FLEXCL_CALL(flexcl_checkpoint_set(ck, "averaging", (uint64_t)l->ls.averaging));
    FLEXCL_CALL(flexcl_checkpoint_set(ck, "ranks", (uint64_t)l->size));

    for (size_t i = 0; i < L; ++i)
        memcpy(buf + i * P, flexcl_model_params(l->cores[i].model), P * sizeof *buf);
    FLEXCL_CALL(flexcl_checkpoint_write(ck, "learner/theta", G, P, first, L, buf));
    for (size_t i = 0; i < L; ++i) memcpy(buf + i * P, l->cores[i].g, P * sizeof *buf);
    FLEXCL_CALL(flexcl_checkpoint_write(ck, "learner/g_pos", G, P, first, L, buf));
    FLEXCL_CALL(memory_write(l, ck));
    for (int which = 0; which < 1 + has_neg; ++which) {
        for (size_t i = 0; i < L; ++i) {
            const core *c = &l->cores[i];
            const flexcl_chain *ch = which ? c->neg_chain : c->chain;
            for (size_t b = 0; b < B; ++b)
                flexcl_chain_state(c->model, ch, b, buf + i * B * S + b * S);
        }
        FLEXCL_CALL(flexcl_checkpoint_write(ck, which ? "learner/neg_chain" : "learner/chain", G,
                                            B * S, first, L, buf));
    }
    if (OS > 0) {
        for (size_t i = 0; i < L; ++i) flexcl_optim_state_get(l->cores[i].opt, buf + i * OS);
        FLEXCL_CALL(flexcl_checkpoint_write(ck, "learner/optim", G, OS, first, L, buf));
    }
    for (size_t i = 0; i < L; ++i) {
        const core *c = &l->cores[i];
        uint64_t *r = u + i * CLK_N;
        r[CLK_T] = c->t;
        r[CLK_PHASES] = c->phases;
        r[CLK_UPDATES] = c->updates;
        r[CLK_PHASE] = (uint64_t)c->phase;
        r[CLK_REMAINING] = c->remaining;
        r[CLK_CURSOR] = c->cursor;
        r[CLK_EPOCH] = c->epoch;
        r[CLK_OPTIM] = flexcl_optim_count(c->opt);
    }
    FLEXCL_CALL(flexcl_checkpoint_write_u64(ck, "learner/clock", G, CLK_N, first, L, u));
    for (size_t i = 0; i < L; ++i)
        for (size_t b = 0; b < B; ++b) u[i * B + b] = l->cores[i].row_idx[b];
    FLEXCL_CALL(flexcl_checkpoint_write_u64(ck, "learner/rows", G, B, first, L, u));

    /* Averaging: an overlapped average in flight is its snapshots (every
     * rank's learners' θ at its step) and, when D > A, the learners' sums
     * of deltas at the snapshot (csnap), saved with their current sums
     * (ccum). A buffer may be touched only once its collectives are
     * complete; completing them early changes nothing, since
     * the average is applied at its fixed step anyway. Pending averages
     * start A steps apart: the oldest's step and the count fix them all. */
    FLEXCL_CALL(wait_all(l));
    FLEXCL_CALL(flexcl_checkpoint_set(ck, "avg_pending", (uint64_t)l->n_pending));
    FLEXCL_CALL(flexcl_checkpoint_set(ck, "avg_pending_step",
                                      l->n_pending ? pending_slot(l, 0)->step : 0));
    FLEXCL_CALL(flexcl_checkpoint_set(ck, "avg_apply_at",
                                      l->n_pending ? pending_slot(l, 0)->apply_at : 0));
    for (int j = 0; j < l->n_pending; ++j) {
        const avg_slot *sl = pending_slot(l, j);
        char name[64];
        pending_name(name, sizeof name, "learner/avg_snapshot", j);
        FLEXCL_CALL(flexcl_checkpoint_write(ck, name, G, P, first, L, sl->snap));
        if (sl->csnap) {
            pending_name(name, sizeof name, "learner/avg_csnap", j);
            FLEXCL_CALL(flexcl_checkpoint_write(ck, name, G, P, first, L, sl->csnap));
        }
    }
    if (l->ccum)
        FLEXCL_CALL(flexcl_checkpoint_write(ck, "learner/avg_ccum", G, P, first, L, l->ccum));
    FLEXCL_CALL(flexcl_checkpoint_set(ck, "avg_records", l->n_hist));
    if (l->n_hist > 0) {
        size_t K = l->n_hist, mine = l->rank == 0 ? K : 0;
        uint64_t *steps = NULL;
        double *spread = NULL;
        flexcl_code e = FLEXCL_OK;
        steps = malloc(2 * K * sizeof *steps);
        spread = malloc(2 * K * sizeof *spread);
        if (!steps || !spread)
            e = flexcl_error_set(FLEXCL_ERR_NOMEM, __FILE__, __LINE__, __func__,
                                 "cannot allocate the averaging history");
        else
            for (size_t k = 0; k < K; ++k) {
                steps[2 * k] = l->hist[k].step;
                steps[2 * k + 1] = l->hist[k].applied;
                spread[2 * k] = l->hist[k].rms_mean;
                spread[2 * k + 1] = l->hist[k].rms_max;
            }
        e = agree_all(l, e);
        if (e == FLEXCL_OK)
            e = flexcl_checkpoint_write_u64(ck, "learner/avg_steps", K, 2, 0, mine, steps);
        if (e == FLEXCL_OK)
            e = flexcl_checkpoint_write(ck, "learner/avg_spread", K, 2, 0, mine, spread);
        free(steps);
        free(spread);
        FLEXCL_CALL(e);
    }
done:
    free(buf);
    free(u);
    return err;
}

/* A checkpoint attribute that must equal this run's value. */
static flexcl_code expect(flexcl_checkpoint *ck, const char *name, uint64_t want,
                          const char *what)
{
    flexcl_code err = FLEXCL_OK;
    uint64_t have = 0;
    FLEXCL_CALL(flexcl_checkpoint_get(ck, name, &have));
    FLEXCL_CHECK(have == want, FLEXCL_ERR_JOB,
                 "%s: checkpoint written with %s %llu, this run has %llu; %s",
                 flexcl_checkpoint_file(ck), name, (unsigned long long)have,
                 (unsigned long long)want, what);
done:
    return err;
}

static flexcl_code checkpoint_read_local(flexcl_learner *l, flexcl_checkpoint *ck)
{
    flexcl_code err = FLEXCL_OK;
    size_t P = l->P, L = (size_t)l->L, G = L * (size_t)l->size;
    size_t first = (size_t)l->rank * L, B = (size_t)l->es.batch;
    size_t S = flexcl_model_state_size(l->cores[0].model);
    size_t OS = flexcl_optim_state_size(l->cores[0].opt);
    size_t n_rows = flexcl_data_rows(l->data);
    int has_neg = l->cores[0].neg_chain != NULL;
    double *buf = NULL, *spread = NULL;
    uint64_t *u = NULL, *steps = NULL, pending = 0, K = 0;
    size_t width = P > B * S ? P : B * S;
    if (OS > width) width = OS;
    const char *again = "resume on the rank count and with the flexcl that wrote it, or remove "
                        "it to start the grid point over";
    FLEXCL_CALL(expect(ck, "learners", G, again));
    FLEXCL_CALL(expect(ck, "params", P, again));
    FLEXCL_CALL(expect(ck, "batch", B, again));
    FLEXCL_CALL(expect(ck, "state_size", S, again));
    FLEXCL_CALL(expect(ck, "optim_state", OS, again));
    FLEXCL_CALL(expect(ck, "average_every", l->ls.average_every, again));
    FLEXCL_CALL(expect(ck, "averaging", (uint64_t)l->ls.averaging, again));
    /* Checkpoints before session 6 carry no delay: theirs was the default. */
    {
        uint64_t d = 0;
        int has_delay = flexcl_checkpoint_get(ck, "average_delay", &d) == FLEXCL_OK;
        if (!has_delay) flexcl_error_clear();
        if (has_delay || l->ls.average_delay != 0)
            FLEXCL_CALL(expect(ck, "average_delay", l->delay, again));
    }
    FLEXCL_ALLOC(buf, L * width);
    FLEXCL_ALLOC(u, L * (CLK_N > B ? CLK_N : B));

    FLEXCL_CALL(flexcl_checkpoint_read(ck, "learner/theta", P, first, L, buf));
    for (size_t i = 0; i < L; ++i)
        memcpy(flexcl_model_params(l->cores[i].model), buf + i * P, P * sizeof *buf);
    FLEXCL_CALL(flexcl_checkpoint_read(ck, "learner/g_pos", P, first, L, buf));
    for (size_t i = 0; i < L; ++i) memcpy(l->cores[i].g, buf + i * P, P * sizeof *buf);
    FLEXCL_CALL(memory_read(l, ck));
    for (int which = 0; which < 1 + has_neg; ++which) {
        FLEXCL_CALL(flexcl_checkpoint_read(ck, which ? "learner/neg_chain" : "learner/chain",
                                           B * S, first, L, buf));
        for (size_t i = 0; i < L; ++i) {
            core *c = &l->cores[i];
            flexcl_chain *ch = which ? c->neg_chain : c->chain;
            for (size_t b = 0; b < B; ++b)
                FLEXCL_CALL(flexcl_chain_set_state(c->model, ch, b, buf + i * B * S + b * S));
        }
    }
    if (OS > 0) FLEXCL_CALL(flexcl_checkpoint_read(ck, "learner/optim", OS, first, L, buf));
    FLEXCL_CALL(flexcl_checkpoint_read_u64(ck, "learner/clock", CLK_N, first, L, u));
    for (size_t i = 0; i < L; ++i) {
        core *c = &l->cores[i];
        const uint64_t *r = u + i * CLK_N;
        FLEXCL_CHECK(r[CLK_PHASE] <= 1 && r[CLK_CURSOR] <= n_rows, FLEXCL_ERR_DATA,
                     "%s: learner/clock of learner %zu is corrupt", flexcl_checkpoint_file(ck),
                     first + i);
        c->t = r[CLK_T];
        c->phases = r[CLK_PHASES];
        c->updates = r[CLK_UPDATES];
        c->phase = (flexcl_phase)r[CLK_PHASE];
        c->remaining = r[CLK_REMAINING];
        c->cursor = (size_t)r[CLK_CURSOR];
        c->epoch = r[CLK_EPOCH];
        flexcl_optim_state_set(c->opt, OS > 0 ? buf + i * OS : NULL, r[CLK_OPTIM]);
        double w_pos, w_neg;
        flexcl_estimator_weights(l->es.weights, l->es.b, &w_pos, &w_neg);
        c->w = c->phase == FLEXCL_PHASE_POSITIVE ? w_pos : w_neg;
        shuffle_epoch(c, n_rows); /* the order of epoch c->epoch */
    }
    for (size_t i = 1; i < L; ++i)
        FLEXCL_CHECK(l->cores[i].t == l->cores[0].t, FLEXCL_ERR_DATA,
                     "%s: learners stopped at different steps", flexcl_checkpoint_file(ck));
    FLEXCL_CALL(flexcl_checkpoint_read_u64(ck, "learner/rows", B, first, L, u));
    for (size_t i = 0; i < L; ++i)
        for (size_t b = 0; b < B; ++b) {
            FLEXCL_CHECK(u[i * B + b] < n_rows, FLEXCL_ERR_DATA,
                         "%s: learner/rows refers to row %llu of a %zu-row data set",
                         flexcl_checkpoint_file(ck), (unsigned long long)u[i * B + b], n_rows);
            l->cores[i].row_idx[b] = (size_t)u[i * B + b];
            l->cores[i].rows[b] = flexcl_data_row(l->data, l->cores[i].row_idx[b]);
        }

    FLEXCL_CALL(flexcl_checkpoint_get(ck, "avg_pending", &pending));
    {
        /* The schedule fixes which averages are pending at step t: those
         * started at the multiples of A in (t − D, t], none at 0. */
        const uint64_t t = l->cores[0].t, A = l->ls.average_every;
        uint64_t want = 0;
        if (A > 0 && l->ls.averaging == FLEXCL_AVERAGING_OVERLAPPED)
            for (uint64_t k = t / A; k >= 1 && k * A + l->delay > t; --k) want++;
        FLEXCL_CHECK(pending == want, FLEXCL_ERR_JOB,
                     "%s: checkpoint written with %llu averages in flight at step %llu, this "
                     "run's schedule (A = %llu, D = %llu) has %llu; %s",
                     flexcl_checkpoint_file(ck), (unsigned long long)pending,
                     (unsigned long long)t, (unsigned long long)A, (unsigned long long)l->delay,
                     (unsigned long long)want, again);
    }
    if (pending > 0) {
        const uint64_t t = l->cores[0].t, A = l->ls.average_every;
        uint64_t step0 = 0, apply0 = 0;
        FLEXCL_CALL(flexcl_checkpoint_get(ck, "avg_pending_step", &step0));
        FLEXCL_CALL(flexcl_checkpoint_get(ck, "avg_apply_at", &apply0));
        FLEXCL_CHECK(A > 0 && step0 % A == 0 && step0 + (pending - 1) * A == t / A * A &&
                         apply0 == step0 + l->delay,
                     FLEXCL_ERR_DATA,
                     "%s: the averages in flight at step %llu start at %llu and are applied at "
                     "%llu; this run's schedule (A = %llu, D = %llu) disagrees",
                     flexcl_checkpoint_file(ck), (unsigned long long)t,
                     (unsigned long long)step0, (unsigned long long)apply0,
                     (unsigned long long)A, (unsigned long long)l->delay);
        /* This rank's snapshots; flexcl_learner_checkpoint_read starts the
         * averages again from them once every rank has read its own (no
         * rank had failed: the checkpoint was written after agreeing). */
        for (int j = 0; j < (int)pending; ++j) {
            avg_slot *sl = pending_slot(l, j);
            char name[64];
            shm_bind(l, sl, step0 + (uint64_t)j * A);
            pending_name(name, sizeof name, "learner/avg_snapshot", j);
            FLEXCL_CALL(flexcl_checkpoint_read(ck, name, P, first, L, sl->snap));
            sl->snap[L * P] = 0.0;
            if (sl->csnap) {
                pending_name(name, sizeof name, "learner/avg_csnap", j);
                FLEXCL_CALL(flexcl_checkpoint_read(ck, name, P, first, L, sl->csnap));
            }
            sl->step = step0 + (uint64_t)j * A;
            sl->apply_at = sl->step + l->delay;
            l->n_pending++;
        }
    }
    if (l->ccum) FLEXCL_CALL(flexcl_checkpoint_read(ck, "learner/avg_ccum", P, first, L, l->ccum));
    FLEXCL_CALL(flexcl_checkpoint_get(ck, "avg_records", &K));
    l->n_hist = 0;
    if (K > 0) {
        FLEXCL_ALLOC(steps, 2 * K);
        FLEXCL_ALLOC(spread, 2 * K);
        FLEXCL_CALL(flexcl_checkpoint_read_u64(ck, "learner/avg_steps", 2, 0, K, steps));
        FLEXCL_CALL(flexcl_checkpoint_read(ck, "learner/avg_spread", 2, 0, K, spread));
        for (size_t k = 0; k < K; ++k)
            FLEXCL_CALL(push_record(l, steps[2 * k], steps[2 * k + 1], spread[2 * k],
                                    spread[2 * k + 1]));
    }
done:
    free(buf);
    free(u);
    free(steps);
    free(spread);
    return err;
}

flexcl_code flexcl_learner_checkpoint_read(flexcl_learner *l, flexcl_checkpoint *ck)
{
    flexcl_code err = FLEXCL_OK;
    FLEXCL_CHECK(l->n_pending == 0 &&
                     l->cores[0].t == 0,
                 FLEXCL_ERR_ARG,
                 "a checkpoint can only be read into learners that have not run");
    err = agree_all(l, checkpoint_read_local(l, ck));
    if (err != FLEXCL_OK) {
        l->n_pending = 0; /* none started */
        goto done;
    }
    /* The averages in flight at the checkpoint, started again from their
     * snapshots: the same collectives, so the same mean and distances. */
    for (int j = 0; j < l->n_pending; ++j) FLEXCL_CALL(slot_begin(l, pending_slot(l, j)));
done:
    return err;
}
