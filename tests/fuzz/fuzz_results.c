/* libFuzzer harness: an HDF5 file -> the readers flexcl uses on results
 * files, grid-point parts and task files (run.c's resume and assembly,
 * flexcl merge, check_existing):
 *   flexcl_results_check_file, flexcl_results_read_attr_string,
 *   flexcl_results_copy_attrs and flexcl_results_copy_tree (into a scratch
 *   results file in /dev/shm, removed again by flexcl_results_destroy).
 * The input is the file's bytes, written to a scratch file in /dev/shm.
 *
 * Invariants: no crash, no hang, no leak; every failure has a one-line
 * message; a copy fails or succeeds as a whole. MPI runs as a singleton
 * (MPI_Init in LLVMFuzzerInitialize). */
#include <mpi.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "flexcl/error.h"
#include "flexcl/results.h"

static char scratch[256];

static void check(int ok)
{
    if (!ok) __builtin_trap();
}

/* MPI is not finalized at exit: finalizing unloads Open MPI's components,
 * and LeakSanitizer could then no longer tell that the memory they keep
 * for the whole process is theirs (tests/sanitize/lsan.supp). */
static void remove_scratch(void)
{
    if (strcmp(scratch, "/tmp") != 0) rmdir(scratch);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    /* HDF5 would otherwise flock the memfd and the scratch file. */
    setenv("HDF5_USE_FILE_LOCKING", "FALSE", 1);
    MPI_Init(NULL, NULL);
    snprintf(scratch, sizeof scratch, "/dev/shm/flexcl-fuzz-results-%ld", (long)getpid());
    if (mkdir(scratch, 0700) != 0) snprintf(scratch, sizeof scratch, "/tmp");
    atexit(remove_scratch);
    return 0;
}

static void check_failure(flexcl_code rc)
{
    if (rc == FLEXCL_OK) return;
    const char *msg = flexcl_error_message();
    if (getenv("FLEXCL_FUZZ_VERBOSE")) fprintf(stderr, "%s\n", msg);
    check(msg[0] != '\0' && strchr(msg, '\n') == NULL);
    check(rc == FLEXCL_ERR_DATA || rc == FLEXCL_ERR_HDF5 || rc == FLEXCL_ERR_NOMEM ||
          rc == FLEXCL_ERR_ARG);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* HDF5 wants a real path (it resolves it for external links), so the
     * input goes to a file in the scratch directory. */
    char path[300], text[256], dst[300];
    snprintf(path, sizeof path, "%s/input.h5", scratch);
    FILE *f = fopen(path, "wb");
    if (f == NULL) return 0;
    size_t wrote = fwrite(data, 1, size, f);
    if (fclose(f) != 0 || wrote != size) return 0;
    check_failure(flexcl_results_check_file(path, "0123456789abcdef"));
    check_failure(flexcl_results_read_attr_string(path, "/", "job_text", text, sizeof text));
    check_failure(flexcl_results_read_attr_string(path, "points/000000", "estimator", text,
                                                  sizeof text));

    snprintf(dst, sizeof dst, "%s/copy.h5", scratch);
    flexcl_results *r = NULL;
    flexcl_code rc = flexcl_results_create(MPI_COMM_SELF, dst, &r);
    check(rc == FLEXCL_OK);
    check_failure(flexcl_results_copy_attrs(r, path, "/", "/"));
    check_failure(flexcl_results_copy_tree(r, path, "/", "copy"));
    flexcl_results_destroy(&r); /* never finished: removes copy.h5.partial */
    check(r == NULL && access(dst, F_OK) != 0);
    unlink(path);
    return 0;
}
