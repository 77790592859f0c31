/* flexcl/optim.h — optimisers applied to a model's flat parameter vector.
 *
 * flexcl ascends: θ ← θ + lr · step(g) with g the CL ascent direction
 * (g = E⁺G − E⁻G, the log-likelihood gradient for an RBM). Coordinates whose
 * learnable mask is 0 never move.
 */
#ifndef FLEXCL_OPTIM_H
#define FLEXCL_OPTIM_H

#include <stddef.h>

#include "flexcl/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum { FLEXCL_OPTIM_SGD = 0, FLEXCL_OPTIM_ADAM = 1 } flexcl_optim_kind;

typedef struct {
    flexcl_optim_kind kind; /* default SGD (authors' RBM) */
    double beta1;           /* Adam first-moment decay; default 0.9 */
    double beta2;           /* Adam second-moment decay; default 0.999 */
    double epsilon;         /* Adam denominator guard; default 1e-8 */
} flexcl_optim_settings;

typedef struct flexcl_optim flexcl_optim;

void flexcl_optim_settings_default(flexcl_optim_settings *s);

/* An optimiser for n parameters with the given learnable mask (copied; NULL
 * means all learnable). Not collective. */
flexcl_code flexcl_optim_create(const flexcl_optim_settings *s, size_t n,
                                const unsigned char *learnable,
                                flexcl_optim **out);
void flexcl_optim_destroy(flexcl_optim **o); /* NULL-safe */

/* g[0..n) ← 0, split over the threads as flexcl_optim_apply splits θ, so
 * each thread clears the part of the gradient buffer its update reads
 * (and, in the RBM's batched path, its statistics tiles write): the
 * buffer's cache lines stay with the thread that owns them. Serial when n
 * is small or inside a parallel region. Not collective. */
void flexcl_optim_zero(const flexcl_optim *o, double *g);

/* One update θ ← θ + lr · step(g). SGD: step = g. Adam: bias-corrected
 * m̂/(√v̂ + ε) (Kingma & Ba), ascending. Not collective. */
void flexcl_optim_apply(flexcl_optim *o, double *theta, const double *g,
                        double lr);

/* Number of updates applied so far. */
unsigned long long flexcl_optim_count(const flexcl_optim *o);

/* The optimiser's internal state, for checkpoints: the number of doubles
 * (Adam: 2n, first moments m then second moments v; SGD: 0), a copy of them
 * into state, and their restoration together with the update count (which
 * Adam's bias correction uses). After set, the optimiser continues bitwise
 * as the one get was called on. Not collective. */
size_t flexcl_optim_state_size(const flexcl_optim *o);
void flexcl_optim_state_get(const flexcl_optim *o, double *state);
void flexcl_optim_state_set(flexcl_optim *o, const double *state,
                            unsigned long long count);

#ifdef __cplusplus
}
#endif
#endif /* FLEXCL_OPTIM_H */
