/* flexcl/rng.h — counter-based random streams (Random123 Philox4x64-10).
 *
 * A stream is a Philox key derived from (job seed, grid point, learner). A
 * random number is a pure function of (key, step, purpose, unit): nothing is
 * carried from one draw to the next, so results never depend on how work is
 * split over OpenMP threads or in which order units are visited.
 *   step    the learner's time step (or the sample index in an experiment);
 *   purpose which decision the numbers serve (FLEXCL_RNG_*), so that e.g. the
 *           phase draw and the hidden-unit draws of one step never collide;
 *   unit    the index of the unit (or chain*n_units + unit) inside the step.
 */
#ifndef FLEXCL_RNG_H
#define FLEXCL_RNG_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    uint64_t key[2];
} flexcl_stream;

/* Counter lanes. New purposes are appended; existing values never change
 * (changing one changes every stored result). */
typedef enum {
    FLEXCL_RNG_INIT = 1,    /* parameter initialisation */
    FLEXCL_RNG_HIDDEN = 2,  /* hidden-unit sampling */
    FLEXCL_RNG_VISIBLE = 3, /* visible-unit sampling */
    FLEXCL_RNG_PHASE = 4,   /* phase type z ~ Bernoulli(b) */
    FLEXCL_RNG_LENGTH = 5,  /* phase length T */
    FLEXCL_RNG_DATA = 6,    /* data order (per epoch) */
    FLEXCL_RNG_EQUILIBRIUM = 7, /* exact equilibrium samples */
    FLEXCL_RNG_LABEL = 8,   /* label draws (negative data, label sampling) */
    FLEXCL_RNG_MODEL = 9    /* any other model-internal draw */
} flexcl_rng_purpose;

/* The stream of one learner at one grid point. Distinct triples give
 * distinct keys (seed, point < 2^32, learner < 2^32). Not collective. */
flexcl_stream flexcl_stream_make(uint64_t seed, uint64_t point,
                                 uint64_t learner);

/* Fill u[0..n) with uniforms in the open interval (0, 1), 53-bit resolution:
 * u[k] is the number of unit first_unit + k. Not collective. */
void flexcl_stream_uniform(const flexcl_stream *s, uint64_t step,
                           uint32_t purpose, uint64_t first_unit, size_t n,
                           double *u);

/* One uniform in (0, 1); equal to the matching element of flexcl_stream_uniform. */
double flexcl_stream_uniform1(const flexcl_stream *s, uint64_t step,
                              uint32_t purpose, uint64_t unit);

/* Fill z[0..n) with standard normals (Box-Muller on unit pairs 2k, 2k+1). */
void flexcl_stream_normal(const flexcl_stream *s, uint64_t step,
                          uint32_t purpose, uint64_t first_unit, size_t n,
                          double *z);

#ifdef __cplusplus
}
#endif
#endif /* FLEXCL_RNG_H */
