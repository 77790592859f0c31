/* flexcl/experiment.h — gradient-sample experiments at a fixed θ₀.
 *
 * isd_variance  N samples of the ISD estimator ĝ = w_z G(z) at θ₀, with the
 *               positive and negative draws kept apart (SPEC §2, §6 checks 1, 2, 4).
 * aol_bias      N phases of always-on learning from persistent chains at θ₀,
 *               each run three times on common random numbers to split the
 *               bias into drift and transient parts (SPEC §2, §6 check 3).
 *               A model without an exact equilibrium sampler gets runs A
 *               and B only: delta, frozen and drift, no equilibrium or
 *               transient (flexcl_experiment_moments returns NULL for them).
 *
 * Work is split into run.chains chains of contiguous sample ranges; chain c
 * draws from the Philox stream (seed, point, c), and chains are spread over
 * the ranks of comm in contiguous blocks and over OpenMP threads. The
 * chains' moments are merged one chain at a time in chain order on every
 * rank, so neither the samples nor the moments depend on the thread or rank
 * count. The layout written is docs/schema.md.
 *
 * A run is start → advance (any number of times) → finish. Between two
 * advances the state can be checkpointed (docs/checkpoint.md): every
 * chain's position, step counter, persistent chain state and moments so
 * far, and the raw samples so far. Chains draw their samples in a fixed
 * sequence, so how a run is cut into advances, and where it is
 * checkpointed and resumed, never changes a bit of the result.
 */
#ifndef FLEXCL_EXPERIMENT_H
#define FLEXCL_EXPERIMENT_H

#include <mpi.h>
#include <stdint.h>

#include "flexcl/checkpoint.h"
#include "flexcl/data.h"
#include "flexcl/error.h"
#include "flexcl/job.h"
#include "flexcl/model.h"
#include "flexcl/moments.h"
#include "flexcl/results.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Set m's parameters to the job's θ₀ (settings s->theta0): the model's
 * initialisation, CD-k training on d from it (stream (seed, 2^32 − 1, 0), the
 * same for every grid point), or row `learner` of
 * points/<point>/params/theta in a results file (read by rank 0; a missing
 * file, group or a shape that does not match m fails with FLEXCL_ERR_DATA
 * naming the file and object). Collective on comm. */
flexcl_code flexcl_theta0_make(MPI_Comm comm, const flexcl_settings *s,
                               const flexcl_data *d, flexcl_model *m);

typedef struct flexcl_experiment_result flexcl_experiment_result;

/* Run the experiment of s->run.experiment (isd_variance or aol_bias) for grid
 * point `point` at the parameters of m (θ₀, left unchanged): start, advance
 * to the end, finish. Collective on comm. Release the result with
 * flexcl_experiment_result_destroy. */
flexcl_code flexcl_experiment_run(MPI_Comm comm, const flexcl_settings *s,
                                  uint64_t point, const flexcl_data *d,
                                  flexcl_model *m, flexcl_experiment_result **out);

typedef struct flexcl_experiment_state flexcl_experiment_state;

/* Prepare the experiment of s->run.experiment for grid point `point` at θ₀ =
 * m's parameters: this rank's chains, started (in exact equilibrium when the
 * model allows it), no sample drawn. s is copied; d and m are borrowed, must
 * outlive the state, and m must not change while it lives. comm is
 * duplicated. Collective on comm. */
flexcl_code flexcl_experiment_start(MPI_Comm comm, const flexcl_settings *s,
                                    uint64_t point, const flexcl_data *d,
                                    flexcl_model *m, flexcl_experiment_state **out);

/* Samples per chain drawn so far, and left to draw by the longest chain
 * (⌈N/C⌉ minus that; 0 when the experiment is complete). The same on every
 * rank. Not collective. */
uint64_t flexcl_experiment_progress(const flexcl_experiment_state *x);
uint64_t flexcl_experiment_remaining(const flexcl_experiment_state *x);

/* Every chain draws its next n samples (a chain at its end draws fewer):
 * OpenMP over this rank's chains. Collective (ranks agree on failure). */
flexcl_code flexcl_experiment_advance(flexcl_experiment_state *x, uint64_t n);

/* Merge the chains' moments (in chain order, on every rank) and hand over
 * the result (*out, owned by the caller). Fails with FLEXCL_ERR_ARG while
 * samples remain. Collective. */
flexcl_code flexcl_experiment_finish(flexcl_experiment_state *x,
                                     flexcl_experiment_result **out);

/* Save the state between advances into the checkpoint being written (the
 * datasets and attributes under "experiment/", rows indexed by chain and by
 * sample, so the checkpoint can be resumed on another rank count).
 * FLEXCL_ERR_UNSUPPORTED when the model cannot restore chain states.
 * Collective. */
flexcl_code flexcl_experiment_checkpoint_write(flexcl_experiment_state *x,
                                               flexcl_checkpoint *ck);
/* Restore it into a state just started with the same settings and θ₀. A
 * checkpoint of other sample, chain or parameter counts, or drawn at
 * another θ₀, fails with FLEXCL_ERR_JOB naming the file. Collective. */
flexcl_code flexcl_experiment_checkpoint_read(flexcl_experiment_state *x,
                                              flexcl_checkpoint *ck);

/* NULL-safe; sets *x to NULL. Collective (frees the duplicated communicator). */
void flexcl_experiment_state_destroy(flexcl_experiment_state **x);

/* Write the result's datasets into the existing group `group` of r (the
 * layout of docs/schema.md). Collective on r's communicator. */
flexcl_code flexcl_experiment_write(flexcl_results *r, const char *group,
                                    const flexcl_experiment_result *res);

/* Merged moments by name ("ghat", "gpos", "gneg", "delta", "frozen",
 * "equilibrium", "drift", "transient"); NULL when the experiment has none. */
const flexcl_moments *flexcl_experiment_moments(const flexcl_experiment_result *res,
                                                const char *name);
/* The exact gradient g(θ₀), or NULL when the model has none. */
const double *flexcl_experiment_exact_gradient(const flexcl_experiment_result *res);

/* This rank's raw samples of quantity `name`: *rows rows of P doubles from
 * global sample *first on (run.raw_samples caps the rows kept over all
 * ranks; *rows may be 0 on a rank), or NULL when the quantity keeps none
 * (ghat, delta, drift and transient do) or the result has no quantity of
 * that name. Not collective; the array belongs to res and lives until
 * flexcl_experiment_result_destroy. */
const double *flexcl_experiment_raw(const flexcl_experiment_result *res, const char *name,
                                    uint64_t *first, uint64_t *rows);

/* The phase types (1 positive, 0 negative) of the same *rows raw rows, owned
 * by res like flexcl_experiment_raw's. Not collective. */
const uint64_t *flexcl_experiment_raw_z(const flexcl_experiment_result *res);

void flexcl_experiment_result_destroy(flexcl_experiment_result **res); /* NULL-safe */

/* The attributes of grid point i's group (docs/schema.md: index, replicate,
 * subgrid, experiment, model, estimator, eta, tau, b, law, weights, learners,
 * data, samples, seed, and every grid axis by name). Collective. */
flexcl_code flexcl_point_write_attrs(flexcl_results *r, const char *group,
                                     const flexcl_job *job, size_t i,
                                     const flexcl_settings *s, const flexcl_data *d,
                                     int learners);

/* The /index coordinate datasets (point, eta, tau, b, replicate) and its
 * attributes (experiments, axes) for the n grid points `points` stored in
 * the file. Collective. */
flexcl_code flexcl_index_write(flexcl_results *r, const flexcl_job *job,
                               const size_t *points, size_t n);

#ifdef __cplusplus
}
#endif
#endif
