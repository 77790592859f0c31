/* Shared helpers of flexcl's benchmarks: wall-clock time, the machine's load
 * (printed with every figure: the machine may be shared), and the final
 * line `NAME: ratio=R goal=G`. */
#ifndef FLEXCL_BENCH_UTIL_H
#define FLEXCL_BENCH_UTIL_H

#include <omp.h>
#include <stdio.h>
#include <time.h>

#include "flexcl/data.h"

static inline double bench_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* The 1-minute load average, or -1 when /proc/loadavg cannot be read. */
static inline double bench_load(void)
{
    double l = -1.0;
    FILE *f = fopen("/proc/loadavg", "r");
    if (f) {
        if (fscanf(f, "%lf", &l) != 1) l = -1.0;
        fclose(f);
    }
    return l;
}

/* One-way core-to-core hand-off latency in ns: two OpenMP threads pass a
 * token back and forth through one atomic int (`rounds` round trips). On a
 * virtual machine it tells whether the two vCPUs share a last-level cache
 * at the moment (tens of ns) or sit on different dies (100+ ns). Needs 2
 * OpenMP threads; returns -1 otherwise. */
static inline double bench_handoff_ns(int rounds)
{
    static _Atomic int token;
    double dt = -1.0;
    token = 0;
#pragma omp parallel num_threads(2) shared(dt, rounds)
    {
        int me = omp_get_thread_num();
        if (omp_get_num_threads() == 2) {
#pragma omp barrier
            double t0 = bench_now();
            for (int r = 0; r < rounds; ++r) {
                int want = 2 * r + me;
                while (__atomic_load_n(&token, __ATOMIC_ACQUIRE) != want) {
                }
                __atomic_store_n(&token, want + 1, __ATOMIC_RELEASE);
            }
            if (me == 0) dt = bench_now() - t0;
        }
    }
    return dt < 0 ? -1.0 : 1e9 * dt / (2.0 * rounds);
}

/* Debian's Fashion-MNIST training images binarised at 0.8 (the data
 * defaults), the first max_rows rows (0 = all); label_block 1 appends the
 * one-hot labels, 0 reads no labels at all. */
static inline flexcl_code bench_fmnist(int label_block, size_t max_rows, flexcl_data **out)
{
    flexcl_data_settings ds;
    flexcl_data_settings_default(&ds);
    ds.source = FLEXCL_DATA_IDX;
    ds.label_block = label_block;
    if (!label_block) ds.labels[0] = '\0';
    ds.max_rows = max_rows;
    return flexcl_data_create(&ds, out);
}

static inline void bench_result(const char *name, double ratio, double goal)
{
    printf("load %.2f\n", bench_load());
    printf("%s: ratio=%.3f goal=%.2f\n", name, ratio, goal);
    fflush(stdout);
}

#endif
