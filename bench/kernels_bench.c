/* kernels: the vectorised Philox uniforms and Bernoulli(σ) decisions of
 * src/kernels.c against their scalar references (Random123's philox4x64
 * through flexcl_stream_uniform; the libm σ rule) on the same inputs, in
 * one process. The kernels are kept only if they are clearly faster: the
 * figure is the scalar time over the kernel time for drawing and deciding
 * one layer of 8192 chains x 16 units (the rbm_small shape) and of 100 x 500
 * units (the rbm_cd1 shape).
 *
 * Printed for the record, not part of the figure: a parameter average's
 * arithmetic on 2 ranks x 4 rows of P doubles (the learner's shapes: P =
 * 288 the BAS RBM, 12 720 the bMNIST RBM, 400 000 about a 784x500 RBM):
 * flexcl_kern_mean_spread (the allgather exchange's; tiles keep each row in
 * cache between the mean and the distances, so near 1 is its best) and,
 * on a second line, flexcl_kern_mean plus flexcl_kern_sqdist of each row
 * (the same arithmetic in two passes, as the sliced exchange splits it:
 * near 0.5 at best once the rows outgrow the cache), each against one
 * plain pass summing the same rows (the floor of anything that must read
 * them).
 *
 * Usage: kernels_bench   (goal: ratio >= 1.5) */
#include <stdlib.h>

#include "bench_util.h"
#include "flexcl/rng.h"
#include "kernels.h"

static double time_layer(size_t n, int reps, int simd, double *act, double *u, double *out,
                         const flexcl_stream *s)
{
    flexcl_kern_set_simd(simd);
    double best = 1e30;
    for (int rep = 0; rep < 5; ++rep) {
        double t0 = bench_now();
        for (int k = 0; k < reps; ++k) {
            flexcl_kern_uniform(s, (uint64_t)k, FLEXCL_RNG_HIDDEN, 0, n, u);
            flexcl_kern_sample(act, u, n, out);
        }
        double t = (bench_now() - t0) / reps;
        best = t < best ? t : best;
    }
    flexcl_kern_set_simd(1);
    return best;
}

int main(void)
{
    const size_t sizes[] = {8192 * 16, 100 * 500};
    flexcl_stream s = flexcl_stream_make(3, 1, 4);
    double worst = 1e30;
    printf("kernels: path %s\n", flexcl_kern_path());
    for (int i = 0; i < 2; ++i) {
        size_t n = sizes[i];
        double *act = malloc(n * sizeof *act), *u = malloc(n * sizeof *u);
        double *out = malloc(n * sizeof *out);
        flexcl_stream_normal(&s, 0, FLEXCL_RNG_MODEL, 0, n, act);
        for (size_t k = 0; k < n; ++k) act[k] *= 3.0;
        int reps = 50;
        double ts = time_layer(n, reps, 0, act, u, out, &s);
        double tk = time_layer(n, reps, 1, act, u, out, &s);
        /* The two parts separately, for the record. */
        flexcl_kern_set_simd(0);
        double t0 = bench_now();
        for (int k = 0; k < reps; ++k) flexcl_kern_uniform(&s, (uint64_t)k, 2, 0, n, u);
        double tu_s = (bench_now() - t0) / reps;
        flexcl_kern_set_simd(1);
        t0 = bench_now();
        for (int k = 0; k < reps; ++k) flexcl_kern_uniform(&s, (uint64_t)k, 2, 0, n, u);
        double tu_k = (bench_now() - t0) / reps;
        printf("%zu units: scalar %.2f ns/unit, kernels %.2f ns/unit (%.2fx); uniforms alone "
               "%.2f vs %.2f ns (%.2fx)\n",
               n, 1e9 * ts / n, 1e9 * tk / n, ts / tk, 1e9 * tu_s / n, 1e9 * tu_k / n,
               tu_s / tu_k);
        worst = ts / tk < worst ? ts / tk : worst;
        free(act);
        free(u);
        free(out);
    }
    const size_t ps[] = {288, 12720, 400000};
    for (int i = 0; i < 3; ++i) {
        const size_t R = 2, L = 4, P = ps[i], stride = L * P + 1, G = R * L;
        double *all = malloc(R * stride * sizeof *all), *mean = malloc(P * sizeof *mean);
        double *sq = malloc(8 * G * sizeof *sq);
        for (size_t k = 0; k < R * stride; ++k) all[k] = 1e-3 * (double)(k % 1013);
        const int reps = (int)(4000000 / P) + 1;
        double tk = 1e30, th = 1e30, tr = 1e30, sink = 0.0;
        for (int rep = 0; rep < 5; ++rep) {
            double t0 = bench_now();
            for (int k = 0; k < reps; ++k) flexcl_kern_mean_spread(all, R, L, stride, P, mean, sq);
            double t = (bench_now() - t0) / reps;
            tk = t < tk ? t : tk;
            sink += sq[0];
            t0 = bench_now();
            for (int k = 0; k < reps; ++k) {
                flexcl_kern_mean(all, R, L, stride, P, mean);
                for (size_t j = 0; j < G; ++j)
                    sq[j] = flexcl_kern_sqdist(all + (j / L) * stride + (j % L) * P, mean, P);
            }
            t = (bench_now() - t0) / reps;
            th = t < th ? t : th;
            sink += sq[0];
            t0 = bench_now();
            for (int k = 0; k < reps; ++k) { /* eight lanes: not bound by add latency */
                double acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
                for (size_t r = 0; r < R; ++r) {
                    const double *row = all + r * stride;
                    size_t q = 0;
                    for (; q + 8 <= L * P; q += 8)
                        for (int j = 0; j < 8; ++j) acc[j] += row[q + j];
                    for (; q < L * P; ++q) acc[0] += row[q];
                }
                for (int j = 0; j < 8; ++j) sink += acc[j];
            }
            t = (bench_now() - t0) / reps;
            tr = t < tr ? t : tr;
        }
        printf("mean_spread %zu x %zu: %.2f us, one plain pass %.2f us (%.2f of it)%s\n", G, P,
               1e6 * tk, 1e6 * tr, tr / tk, sink == 42.0 ? " " : "");
        printf("mean + sqdist %zu x %zu: %.2f us (%.2f of the plain pass)\n", G, P, 1e6 * th,
               tr / th);
        free(all);
        free(mean);
        free(sq);
    }
    bench_result("kernels", worst, 1.5);
    return 0;
}
