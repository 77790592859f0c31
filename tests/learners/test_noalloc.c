/* No allocation in the hot loops (issue 4): the learners' time steps —
 * Gibbs sweeps, phase ends, updates, averaging — allocate nothing once
 * running. The test program interposes malloc, calloc, realloc,
 * posix_memalign and aligned_alloc (an executable's definitions take
 * precedence over libc's for every library of the process) and counts the
 * calls made while `counting` is set; they still go to glibc's allocator.
 *
 * A call is flexcl's when its return address lies in this program's text
 * (flexcl is linked statically), else a shared library's (Open MPI,
 * libgomp, OpenBLAS, libc). Cases (each: create, advance 2000 steps as
 * warm-up, then count during flexcl_learner_advance of 20 000 steps):
 * flexcl's must be 0 apart from the averaging history's doublings (a
 * realloc at 64, 128, 256, ... records: counted exactly and reported), and
 * the libraries' 0 wherever no MPI call is inside the window:
 *   the RBM under two_term (CD from the data), isd (fixed and geometric
 *   phase laws, PCD), aol, with SGD and Adam, batch 1 and 10, 1 and 4
 *   learners on 1 and 2 OpenMP threads (A = 0: no MPI inside the window);
 *   blocking and overlapped averaging every 100 steps on this communicator
 *   (what Open MPI allocates inside its collectives is reported, not
 *   asserted: its non-blocking collectives build a schedule at every
 *   start, and a blocking average is the same collective waited for.
 *   Measured per average, summed over 2 ranks: 16 blocking and 14
 *   overlapped with the allgather exchange, 48 and 46 sliced; at 1 rank 0
 *   and 8 sliced).
 * The same two averaging cases with the sliced exchange. Twin that must
 * count: flexcl_learner_spread, which allocates its buffers, inside the
 * window (> 0). Deterministic: no tolerance. */
#include <mpi.h>
#include <omp.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "../test_util.h"
#include "flexcl/flexcl.h"

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);

static atomic_int counting;
static atomic_long n_alloc, n_alloc_lib;

/* flexcl is linked statically into this program: a call whose return
 * address lies in the program's text is flexcl's (or the test's); any other
 * comes from a shared library (Open MPI, libgomp, OpenBLAS, libc). */
extern char __executable_start, etext;
static void note(const void *ret)
{
    if (!atomic_load_explicit(&counting, memory_order_relaxed)) return;
    const char *r = ret;
    if (r >= &__executable_start && r < &etext) atomic_fetch_add(&n_alloc, 1);
    else atomic_fetch_add(&n_alloc_lib, 1);
}

void *malloc(size_t n)
{
    note(__builtin_return_address(0));
    return __libc_malloc(n);
}

void *calloc(size_t k, size_t n)
{
    note(__builtin_return_address(0));
    return __libc_calloc(k, n);
}

void *realloc(void *p, size_t n)
{
    note(__builtin_return_address(0));
    return __libc_realloc(p, n);
}

int posix_memalign(void **p, size_t align, size_t n)
{
    note(__builtin_return_address(0));
    *p = __libc_memalign(align, n);
    return *p ? 0 : 12; /* ENOMEM */
}

void *aligned_alloc(size_t align, size_t n)
{
    note(__builtin_return_address(0));
    return __libc_memalign(align, n);
}

static flexcl_data *bas;
static int rank;

typedef struct {
    const char *name;
    flexcl_estimator_kind kind;
    flexcl_phase_law law;
    int persistent, batch, L, threads;
    flexcl_optim_kind opt;
    uint64_t A;
    flexcl_averaging avg;
    flexcl_exchange exch; /* 0: auto (the allgather here) */
} cfg;

static flexcl_learner *make(const cfg *c)
{
    flexcl_learner_settings ls;
    flexcl_model_settings ms;
    flexcl_estimator_settings es;
    flexcl_optim_settings os;
    flexcl_learner_settings_default(&ls);
    flexcl_model_settings_default(&ms);
    flexcl_estimator_settings_default(&es);
    flexcl_optim_settings_default(&os);
    ls.seed = 7;
    ls.learners_per_rank = c->L;
    ls.average_every = c->A;
    ls.averaging = c->avg;
    ls.exchange = c->exch;
    ms.n_hidden = 16;
    es.kind = c->kind;
    es.law = c->law;
    es.tau = 20;
    es.eta = 0.01;
    es.persistent = c->persistent;
    es.batch = c->batch;
    os.kind = c->opt;
    flexcl_learner *l = NULL;
    if (flexcl_learner_create(MPI_COMM_WORLD, &ls, &ms, &es, &os, bas, 1, &l) != FLEXCL_OK)
        fprintf(stderr, "create: %s\n", flexcl_error_message());
    return l;
}

/* The averaging history grows by doubling (64, 128, ...): a push at n_hist
 * = 0, 64, 128, 256, ... reallocates. The number of those in [n0, n1). */
static long history_growths(size_t n0, size_t n1)
{
    long g = n0 == 0 && n1 > 0;
    for (size_t m = 64; m < n1; m *= 2) g += m >= n0;
    return g;
}

typedef struct {
    long ours, lib, growths;
} tally;

/* Allocations during advance(20 000) after a 2000-step warm-up, summed over
 * ranks: flexcl's own (less the averaging history's doublings, which are
 * returned apart) and the shared libraries'; with_spread adds the twin's
 * allocating call inside the window. */
static tally count(const cfg *c, int with_spread)
{
    tally t = {0, 0, 0};
    omp_set_num_threads(c->threads);
    flexcl_learner *l = make(c);
    CU_ASSERT_PTR_NOT_NULL_FATAL(l);
    CU_ASSERT_EQUAL(flexcl_learner_advance(l, 2000), FLEXCL_OK);
    double rm = 0, rx = 0;
    size_t n0 = flexcl_learner_n_averages(l);
    MPI_Barrier(MPI_COMM_WORLD);
    atomic_store(&n_alloc, 0);
    atomic_store(&n_alloc_lib, 0);
    atomic_store(&counting, 1);
    flexcl_code rc = flexcl_learner_advance(l, 20000);
    if (with_spread) rc |= flexcl_learner_spread(l, &rm, &rx);
    atomic_store(&counting, 0);
    CU_ASSERT_EQUAL(rc, FLEXCL_OK);
    long mine[3] = {atomic_load(&n_alloc), atomic_load(&n_alloc_lib),
                    history_growths(n0, flexcl_learner_n_averages(l))},
         all[3];
    MPI_Allreduce(mine, all, 3, MPI_LONG, MPI_SUM, MPI_COMM_WORLD);
    t.ours = all[0] - all[2];
    t.lib = all[1];
    t.growths = all[2];
    flexcl_learner_destroy(&l);
    return t;
}

static void test_no_alloc(void)
{
    const cfg cases[] = {
        {"two_term sgd", FLEXCL_EST_TWO_TERM, FLEXCL_LAW_FIXED, 0, 1, 1, 1, FLEXCL_OPTIM_SGD, 0, 0, 0},
        {"isd fixed sgd", FLEXCL_EST_ISD, FLEXCL_LAW_FIXED, 0, 1, 1, 1, FLEXCL_OPTIM_SGD, 0, 0, 0},
        {"isd geometric pcd adam", FLEXCL_EST_ISD, FLEXCL_LAW_GEOMETRIC, 1, 1, 1, 1,
         FLEXCL_OPTIM_ADAM, 0, 0, 0},
        {"aol geometric sgd", FLEXCL_EST_AOL, FLEXCL_LAW_GEOMETRIC, 0, 1, 1, 1, FLEXCL_OPTIM_SGD,
         0, 0, 0},
        {"isd batch 10, 4 learners", FLEXCL_EST_ISD, FLEXCL_LAW_FIXED, 0, 10, 4, 1,
         FLEXCL_OPTIM_SGD, 0, 0, 0},
        {"isd 4 learners, 2 threads", FLEXCL_EST_ISD, FLEXCL_LAW_GEOMETRIC, 0, 1, 4, 2,
         FLEXCL_OPTIM_ADAM, 0, 0, 0},
        {"aol batch 10, 2 threads", FLEXCL_EST_AOL, FLEXCL_LAW_FIXED, 0, 10, 1, 2,
         FLEXCL_OPTIM_SGD, 0, 0, 0},
        {"isd blocking A=100", FLEXCL_EST_ISD, FLEXCL_LAW_FIXED, 0, 1, 4, 1, FLEXCL_OPTIM_SGD, 100,
         FLEXCL_AVERAGING_BLOCKING, 0},
        {"isd overlapped A=100", FLEXCL_EST_ISD, FLEXCL_LAW_FIXED, 0, 1, 4, 1, FLEXCL_OPTIM_SGD,
         100, FLEXCL_AVERAGING_OVERLAPPED, 0},
        {"isd blocking sliced", FLEXCL_EST_ISD, FLEXCL_LAW_FIXED, 0, 1, 4, 1, FLEXCL_OPTIM_SGD,
         100, FLEXCL_AVERAGING_BLOCKING, FLEXCL_EXCHANGE_SLICED},
        {"isd overlapped sliced", FLEXCL_EST_ISD, FLEXCL_LAW_FIXED, 0, 1, 4, 1, FLEXCL_OPTIM_SGD,
         100, FLEXCL_AVERAGING_OVERLAPPED, FLEXCL_EXCHANGE_SLICED},
    };
    for (size_t k = 0; k < sizeof cases / sizeof *cases; ++k) {
        tally t = count(&cases[k], 0);
        if (rank == 0)
            printf("\n    %-26s flexcl %ld (+ %ld history doublings), libraries %ld", cases[k].name,
                   t.ours, t.growths, t.lib);
        CU_ASSERT_EQUAL(t.ours, 0);
        /* Without MPI in the window no library allocates either. */
        if (cases[k].A == 0) CU_ASSERT_EQUAL(t.lib, 0);
    }
    tally twin = count(&cases[1], 1);
    if (rank == 0)
        printf("\n    twin: flexcl_learner_spread inside the window: flexcl %ld\n", twin.ours);
    CU_ASSERT(twin.ours > 0);
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    if (rank != 0) CU_basic_set_mode(CU_BRM_SILENT);
    if (flexcl_data_create_bas(4, &bas) != FLEXCL_OK || CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    test_case cases[] = {{"no_allocation_in_advance", test_no_alloc}};
    if (add_suite("noalloc", cases, 1)) return 1;
    int failures = run_all(), total = 0;
    MPI_Allreduce(&failures, &total, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
    flexcl_data_destroy(&bas);
    MPI_Finalize();
    return total != 0;
}
