/* Shared helpers of flexcl's benchmarks: wall-clock time, the machine's load
 * (printed with every figure: the machine may be shared), and the final
 * line `NAME: ratio=R goal=G`. */
#ifndef FLEXCL_BENCH_UTIL_H
#define FLEXCL_BENCH_UTIL_H

#include <stdio.h>
#include <time.h>

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

static inline void bench_result(const char *name, double ratio, double goal)
{
    printf("load %.2f\n", bench_load());
    printf("%s: ratio=%.3f goal=%.2f\n", name, ratio, goal);
    fflush(stdout);
}

#endif
