/* Shared helpers of flexcl's CUnit programs that run under mpiexec: a
 * scratch directory every rank knows, and a run of the registered suites
 * whose exit status counts the failures of every rank.
 *
 *     mpi_tmpdir_create(dir, sizeof dir, "flexcl_results")  (suite init)
 *     mpi_tmpdir_remove(dir)                                (suite clean-up)
 *     return mpi_run_all("results");                        (end of main)
 *
 * Collective on MPI_COMM_WORLD: a test program owns its world. */
#ifndef FLEXCL_MPI_TEST_UTIL_H
#define FLEXCL_MPI_TEST_UTIL_H

#include <CUnit/Basic.h>
#include <ftw.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static inline int mpi_test_rank(void)
{
    int r = 0;
    MPI_Comm_rank(MPI_COMM_WORLD, &r);
    return r;
}

/* Rank 0 makes $TMPDIR/PREFIX_XXXXXX (TMPDIR defaults to /tmp) and every
 * rank receives its name in dir. Returns 0, or -1 on every rank when it
 * could not be made (a CUnit suite init's convention). */
static inline int mpi_tmpdir_create(char *dir, size_t n, const char *prefix)
{
    int ok = 1;
    memset(dir, 0, n);
    if (mpi_test_rank() == 0) {
        const char *t = getenv("TMPDIR");
        snprintf(dir, n, "%s/%s_XXXXXX", t && t[0] ? t : "/tmp", prefix);
        ok = mkdtemp(dir) != NULL;
    }
    MPI_Bcast(&ok, 1, MPI_INT, 0, MPI_COMM_WORLD);
    MPI_Bcast(dir, (int)n, MPI_CHAR, 0, MPI_COMM_WORLD);
    return ok ? 0 : -1;
}

static inline int mpi_tmpdir_remove_entry(const char *path, const struct stat *sb, int flag,
                                          struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

/* Once every rank is done with it, rank 0 removes dir and all below it.
 * Returns 0 (a CUnit suite clean-up's convention). */
static inline int mpi_tmpdir_remove(const char *dir)
{
    MPI_Barrier(MPI_COMM_WORLD);
    if (mpi_test_rank() == 0 && dir[0] != '\0')
        nftw(dir, mpi_tmpdir_remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    return 0;
}

/* Run everything registered: rank 0 prints the run, the other ranks run
 * quietly and print only their own failures. Rank 0 then prints the sum
 * over ranks ("NAME test on R ranks: F failures over all ranks"). The
 * registry is cleaned up and MPI finalised; returns the exit status,
 * 0 when no rank failed. */
static inline int mpi_run_all(const char *name)
{
    int rank = 0, size = 1;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    if (rank == 0) {
        CU_basic_set_mode(CU_BRM_VERBOSE);
        CU_basic_run_tests();
    } else {
        CU_run_all_tests();
    }
    int failures = (int)CU_get_number_of_failures();
    if (CU_get_error() != CUE_SUCCESS) failures++;
    if (rank != 0 && failures > 0) {
        for (CU_pFailureRecord f = CU_get_failure_list(); f != NULL; f = f->pNext)
            fprintf(stderr, "rank %d: %s:%u: %s: %s\n", rank, f->strFileName, f->uiLineNumber,
                    f->pTest ? f->pTest->pName : "?", f->strCondition);
    }
    int total = 0;
    MPI_Allreduce(&failures, &total, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
    if (rank == 0)
        printf("%s test on %d rank%s: %d failure%s over all ranks\n", name, size,
               size == 1 ? "" : "s", total, total == 1 ? "" : "s");
    CU_cleanup_registry();
    MPI_Finalize();
    return total == 0 ? 0 : 1;
}

#endif /* FLEXCL_MPI_TEST_UTIL_H */
