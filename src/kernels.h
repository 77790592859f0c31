/* src/kernels.h — private vectorised element-wise kernels of the RBM's hot
 * loops (never installed).
 *
 * Every kernel reproduces a scalar reference bit for bit, so which machine,
 * which code path (AVX-512 when the CPU has AVX-512F and AVX-512DQ, chosen at
 * run time; otherwise the scalar reference itself) and how many threads run
 * them never changes a result:
 *
 *   flexcl_kern_uniform  the same numbers as flexcl_stream_uniform, i.e.
 *                        Random123's philox4x64 (10 rounds) on the counter
 *                        (step, purpose, unit / 4, 0) mapped to (0, 1) with
 *                        ((x >> 11) + 0.5) 2^-53. Philox is integer
 *                        arithmetic: up to 32 counters per iteration (four
 *                        interleaved vectors of eight), each 64x64 -> 128-bit
 *                        product built from four 32x32 -> 64 products
 *                        (vpmuludq);
 *   flexcl_kern_sample   out[k] = (1 / (1 + exp(-act[k])) >= u[k]) with libm's
 *                        exp, decided from a vectorised e^(-x) (relative
 *                        error < 4e-13) as u (1 + e^(-x)) <= 1: every unit
 *                        whose product lies within a relative 1e-10 of 1 (or
 *                        is NaN) is decided again with libm's formula, so the
 *                        decision is the libm one everywhere (proof in
 *                        kernels.c; tests/kernels checks it on adversarial
 *                        inputs next to the boundary);
 *   flexcl_kern_affine   the per-chain layer inputs bias + M x of a block of
 *                        chains, eight (then four, then one) chains at a time
 *                        with their sums in registers, each sum in the plain
 *                        loop's order with unfused multiplies and adds.
 *
 * The equality with libm is with the libm of the running process: glibc's
 * exp is not correctly rounded, so two machines whose glibc picks different
 * exp variants could in principle differ on a unit whose σ lies within one
 * ulp of its uniform; the scalar path shares that caveat.
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

/* The raw Philox4x64-10 words of the n_blocks counters (c0, c1, c2 + b, c3),
 * b < n_blocks (c2 + b wraps modulo 2^64), under key (k0, k1):
 * out[4 b + w] = philox4x64(ctr, key).v[w]. For the equality tests. */
void flexcl_kern_philox(uint64_t k0, uint64_t k1, uint64_t c0, uint64_t c1,
                        uint64_t c2, uint64_t c3, size_t n_blocks, uint64_t *out);

/* out[k] = 1.0 when 1/(1 + exp(-act[k])) >= u[k] (libm exp), else 0.0.
 * out may alias act or u. */
void flexcl_kern_sample(const double *act, const double *u, size_t n, double *out);

/* out[b n_out + o] = bias[o] + Σ_{k < n_in} M[k n_out + o] x[b n_in + k] for
 * chains b < n_chains (bias NULL: 0), each sum taken in the order k = 0, 1,
 * ... with a separate multiply and add per term (never fused), exactly as
 * the plain loop `y = bias[o]; for k: y += M[k][o] * x[k]` rounds: bitwise
 * equal to it on every path. M is row-major n_in x n_out (an RBM's Wᵀ for
 * the hidden input, W for the visible input); out must not alias. */
void flexcl_kern_affine(const double *M, const double *bias, const double *x, size_t n_chains,
                        size_t n_in, size_t n_out, double *out);

/* The allgather exchange's average over G = R·L rows of P doubles (R
 * blocks of L rows, `stride` doubles apart; row k at all + (k / L) stride
 * + (k % L) P):
 * mean[q] = (Σ_k row_k[q]) / G, each element's sum in row order from 0.0,
 * and sq[k] = ‖row_k − mean‖², each summed in eight fixed lanes (element q
 * in lane q mod 8, unfused multiply then add) combined as ((l0 + l1) +
 * (l2 + l3)) + ((l4 + l5) + (l6 + l7)): an order fixed by P alone, so every
 * path and every rank computes the same bits. sq is 8 G doubles of scratch
 * (the lanes; on return sq[k], k < G, holds the distances). The elements
 * are taken in tiles of FLEXCL_KERN_TILE(G) doubles: each tile's mean, then
 * every row's distance lanes on that tile while it is still in cache (one
 * pass over the rows from memory, not two); the tiles keep every sum's
 * order, so the bits do not depend on them. mean and sq must not alias
 * all. */
#define FLEXCL_KERN_TILE(G) ((G) >= 256 ? (size_t)8 : (size_t)(2048 / (G)) & ~(size_t)7)
void flexcl_kern_mean_spread(const double *all, size_t R, size_t L, size_t stride, size_t P,
                             double *mean, double *sq);

/* The sliced exchange's two halves of flexcl_kern_mean_spread, same bits.
 * The mean over G = R·L rows of P doubles (same layout):
 * mean[q] = (Σ_k row_k[q]) / G, each element's sum in row order from 0.0
 * (so a slice of the elements, summed alone, has the bits of the whole).
 * mean must not alias all. */
void flexcl_kern_mean(const double *all, size_t R, size_t L, size_t stride, size_t P,
                      double *mean);

/* ‖row − mean‖² over P elements, summed in eight fixed lanes (element q in
 * lane q mod 8, unfused multiply then add) combined as ((l0 + l1) + (l2 +
 * l3)) + ((l4 + l5) + (l6 + l7)): an order fixed by P alone, so every path
 * and every rank computes the same bits. */
double flexcl_kern_sqdist(const double *row, const double *mean, size_t P);

/* th[q] += mu[q] − si[q], q < P (the overlapped average's correction; one
 * rounding for the difference, one for the sum, on every path). */
void flexcl_kern_correct(double *th, const double *mu, const double *si, size_t P);

/* The fast σ the vector path starts from, as a scalar function (for the
 * tests' must-fail twin: deciding with it alone is not the libm rule). */
double flexcl_kern_sigmoid(double x);

/* Use the vector path when the CPU allows it (on = 1, the default) or force
 * the scalar references (on = 0); returns the previous setting. Results are
 * the same either way; this exists for the tests and benchmarks. Not
 * thread-safe: call it outside parallel regions. */
int flexcl_kern_set_simd(int on);

/* "avx512" or "scalar": the path the kernels take now. */
const char *flexcl_kern_path(void);

#endif
