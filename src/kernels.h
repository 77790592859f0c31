/* src/kernels.h — private vectorised element-wise kernels of the hot loops
 * (never installed).
 *
 * Both kernels reproduce a scalar reference bit for bit, so which machine,
 * which instruction set (AVX-512, AVX2 or plain x86-64, chosen at run time
 * with GCC function multi-versioning) and how many threads run them never
 * changes a result:
 *
 *   flexcl_kern_uniform  fills the same numbers as flexcl_stream_uniform
 *                        (Philox4x64-10 is integer arithmetic: eight
 *                        counters per vector, 64x64->128-bit products
 *                        built from 32-bit halves);
 *   flexcl_kern_sample   decides out[k] = (σ(act[k]) >= u[k]) exactly as
 *                        `1.0 / (1.0 + exp(-act[k])) >= u[k]` with libm's
 *                        exp does: a vectorised σ (relative error < 1e-14)
 *                        decides every unit whose σ is not within a relative
 *                        1e-12 of u[k]; the others (about 2e-12 of all draws)
 *                        are decided again with libm, so the decision is the
 *                        libm one everywhere.
 *
 * Not collective; no allocation; safe to call from OpenMP threads.
 */
#ifndef FLEXCL_KERNELS_H
#define FLEXCL_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#include "flexcl/rng.h"

/* u[k] = the uniform of unit first_unit + k, k < n, bitwise equal to
 * flexcl_stream_uniform(s, step, purpose, first_unit, n, u). */
void flexcl_kern_uniform(const flexcl_stream *s, uint64_t step, uint32_t purpose,
                         uint64_t first_unit, size_t n, double *u);

/* out[k] = 1.0 when 1/(1 + exp(-act[k])) >= u[k] (libm exp), else 0.0. */
void flexcl_kern_sample(const double *act, const double *u, size_t n, double *out);

/* The vectorised σ itself (for tests): relative error < 1e-14 for every
 * finite x; σ(±∞) and σ(NaN) follow the formula. */
double flexcl_kern_sigmoid(double x);

#endif
