/* flexcl/experiment.h — gradient-sample experiments at a fixed θ₀.
 *
 * isd_variance  N samples of the ISD estimator ĝ = w_z G(z) at θ₀, with the
 *               positive and negative draws kept apart (SPEC §2, §6 checks 1, 2, 4).
 * aol_bias      N phases of always-on learning from persistent chains at θ₀,
 *               each run three times on common random numbers to split the
 *               bias into drift and transient parts (SPEC §2, §6 check 3).
 *
 * Work is split into run.chains chains of contiguous sample ranges; chain c
 * draws from the Philox stream (seed, point, c), and chains are spread over
 * the ranks of comm in contiguous blocks and over OpenMP threads. Moments are
 * merged in chain order within a rank and in rank order across ranks, so the
 * results do not depend on the thread count, and the samples themselves do
 * not depend on the rank count. The layout written is docs/schema.md.
 */
#ifndef FLEXCL_EXPERIMENT_H
#define FLEXCL_EXPERIMENT_H

#include <mpi.h>
#include <stdint.h>

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
 * point `point` at the parameters of m (θ₀, left unchanged). Collective on
 * comm. Release the result with flexcl_experiment_result_destroy. */
flexcl_code flexcl_experiment_run(MPI_Comm comm, const flexcl_settings *s,
                                  uint64_t point, const flexcl_data *d,
                                  flexcl_model *m, flexcl_experiment_result **out);

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
