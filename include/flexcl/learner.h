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
 *
 * Phase length T: fixed (T = τ), geometric (P(T=t) = (1−p)^(t−1) p, p = 1/τ)
 * or uniform on {τ−w, …, τ+w}. Every law has E[T] = τ.
 *
 * Positive phases take the next data rows in an order that is reshuffled
 * every epoch from the learner's stream; nothing else is reset at a switch.
 * Learners never synchronise phases. With average_every = A > 0 the learners
 * of a communicator average θ every A steps of their local clocks (all
 * learners run the same number of steps, so they meet); the sum is taken in
 * rank order on every rank, so every rank holds bitwise the same θ.
 */
#ifndef FLEXCL_LEARNER_H
#define FLEXCL_LEARNER_H

#include <mpi.h>
#include <stddef.h>
#include <stdint.h>

#include "flexcl/data.h"
#include "flexcl/error.h"
#include "flexcl/model.h"
#include "flexcl/optim.h"
#include "flexcl/rng.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    FLEXCL_EST_TWO_TERM = 0,
    FLEXCL_EST_ISD = 1,
    FLEXCL_EST_AOL = 2
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

typedef struct {
    uint64_t seed;          /* job seed */
    uint64_t point;         /* grid point index (key of the stream) */
    int learners_per_rank;  /* L >= 1; learner id = rank * L + local index */
    uint64_t average_every; /* A steps between parameter averages; 0 = never */
} flexcl_learner_settings;

typedef struct flexcl_learner flexcl_learner;

/* Create the L learners of this rank for one grid point. Every learner gets
 * a model created from ms (initialised from its own stream unless
 * same_init = 1, in which case all use learner 0's stream so the replicas
 * start equal), a chain of es->batch states, and an optimiser. data is
 * borrowed and must outlive the learner. comm is duplicated.
 * Collective on comm. */
flexcl_code flexcl_learner_create(MPI_Comm comm,
                                  const flexcl_learner_settings *ls,
                                  const flexcl_model_settings *ms,
                                  const flexcl_estimator_settings *es,
                                  const flexcl_optim_settings *os,
                                  const flexcl_data *data, int same_init,
                                  flexcl_learner **out);
/* Collective on the learner's communicator. NULL-safe; sets *l to NULL. */
void flexcl_learner_destroy(flexcl_learner **l);

/* Advance every local learner by n time steps (OpenMP over local learners;
 * parameter averages happen at multiples of average_every). Collective when
 * averaging is on. */
flexcl_code flexcl_learner_advance(flexcl_learner *l, uint64_t n);

/* Local learners, the global learner count, and learner i's model (borrowed). */
int flexcl_learner_local_count(const flexcl_learner *l);
int flexcl_learner_global_count(const flexcl_learner *l);
int flexcl_learner_first_id(const flexcl_learner *l);
flexcl_model *flexcl_learner_model(flexcl_learner *l, int local_index);

/* Clock of local learner i: time steps done, phases completed, updates made. */
uint64_t flexcl_learner_steps(const flexcl_learner *l, int local_index);
uint64_t flexcl_learner_phases(const flexcl_learner *l, int local_index);
uint64_t flexcl_learner_updates(const flexcl_learner *l, int local_index);

#ifdef __cplusplus
}
#endif
#endif /* FLEXCL_LEARNER_H */
