/* What produced a results file: versions, job, machine, time.
 *
 * Values that the library finds out for itself (MPI library, HDF5 and
 * OpenBLAS versions, host names) are taken on rank 0 and broadcast, because
 * attribute values must be identical on every rank and a heterogeneous
 * allocation could otherwise disagree (OpenBLAS names the CPU core it picked). */
#include "flexcl/provenance.h"

#include <cblas.h>
#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "flexcl_version.h"

/* The meson project version; keep the two in step. */
#define FLEXCL_VERSION_STRING "0.1.0"

const char *flexcl_version(void) { return FLEXCL_VERSION_STRING; }

const char *flexcl_git_describe(void) { return FLEXCL_GIT_DESCRIBE; }

/* UTC ISO 8601 ("2026-11-23T10:00:00Z"); "" for an unset time (0 or -1). */
static void format_time(time_t t, char out[32])
{
    struct tm tm;
    out[0] = '\0';
    if (t == 0 || t == (time_t)-1) return;
    if (gmtime_r(&t, &tm) == NULL) return;
    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* Broadcast rank 0's string (malloc'd on every rank into *s; rank 0 passes
 * its own malloc'd string, which is kept). Collective. */
static flexcl_code bcast_string(MPI_Comm comm, int rank, char **s)
{
    flexcl_code err = FLEXCL_OK;
    unsigned long long n = rank == 0 ? strlen(*s) + 1 : 0;

    FLEXCL_MPI(MPI_Bcast(&n, 1, MPI_UNSIGNED_LONG_LONG, 0, comm));
    if (rank != 0) FLEXCL_ALLOC(*s, n);
    FLEXCL_MPI(MPI_Bcast(*s, (int)n, MPI_CHAR, 0, comm));
    (*s)[n - 1] = '\0';
done:
    return err;
}

/* Rank 0's description of the MPI library (first line only), its MPI-IO
 * component (Open MPI's OMPI_MCA_io, "default" when unset), HDF5 version and
 * OpenBLAS configuration, each malloc'd. Not collective. */
static flexcl_code local_versions(char **mpi, char **io, char **hdf5, char **blas)
{
    flexcl_code err = FLEXCL_OK;
    char lib[MPI_MAX_LIBRARY_VERSION_STRING];
    int len = 0;
    unsigned maj = 0, min = 0, rel = 0;
    const char *config = openblas_get_config();

    FLEXCL_MPI(MPI_Get_library_version(lib, &len));
    lib[len < MPI_MAX_LIBRARY_VERSION_STRING ? len : MPI_MAX_LIBRARY_VERSION_STRING - 1] =
        '\0';
    lib[strcspn(lib, "\r\n")] = '\0';
    for (size_t n = strlen(lib); n > 0 && (lib[n - 1] == ' ' || lib[n - 1] == ','); n--)
        lib[n - 1] = '\0';
    FLEXCL_H5(H5get_libversion(&maj, &min, &rel), "cannot query the HDF5 version");

    FLEXCL_ALLOC(*mpi, strlen(lib) + 1);
    strcpy(*mpi, lib);
    const char *component = getenv("OMPI_MCA_io");
    if (!component || !*component) component = "default";
    FLEXCL_ALLOC(*io, strlen(component) + 1);
    strcpy(*io, component);
    FLEXCL_ALLOC(*hdf5, 48);
    snprintf(*hdf5, 48, "%u.%u.%u", maj, min, rel);
    if (config == NULL) config = "";
    FLEXCL_ALLOC(*blas, strlen(config) + 1);
    strcpy(*blas, config);
done:
    return err;
}

/* Unique processor names of all ranks, comma-separated in rank order of
 * first appearance, the same string on every rank (malloc'd). Collective. */
static flexcl_code gather_hosts(MPI_Comm comm, int rank, int size, char **out)
{
    flexcl_code err = FLEXCL_OK;
    char name[MPI_MAX_PROCESSOR_NAME];
    char *all = NULL;
    int len = 0, failed = 0, any_failed = 0;

    memset(name, 0, sizeof name);
    if (MPI_Get_processor_name(name, &len) != MPI_SUCCESS) failed = 1;
    name[MPI_MAX_PROCESSOR_NAME - 1] = '\0';
    FLEXCL_MPI(MPI_Allreduce(&failed, &any_failed, 1, MPI_INT, MPI_MAX, comm));
    FLEXCL_CHECK(!any_failed, FLEXCL_ERR_MPI,
                 "MPI_Get_processor_name failed on at least one rank");

    if (rank == 0) FLEXCL_ALLOC(all, (size_t)size * MPI_MAX_PROCESSOR_NAME);
    FLEXCL_MPI(MPI_Gather(name, MPI_MAX_PROCESSOR_NAME, MPI_CHAR, all,
                          MPI_MAX_PROCESSOR_NAME, MPI_CHAR, 0, comm));
    if (rank == 0) {
        /* At most size names of MPI_MAX_PROCESSOR_NAME chars plus commas. */
        FLEXCL_ALLOC(*out, (size_t)size * (MPI_MAX_PROCESSOR_NAME + 1) + 1);
        for (int i = 0; i < size; i++) {
            char *h = all + (size_t)i * MPI_MAX_PROCESSOR_NAME;
            h[MPI_MAX_PROCESSOR_NAME - 1] = '\0';
            int seen = 0;
            for (int j = 0; j < i && !seen; j++)
                seen = strcmp(h, all + (size_t)j * MPI_MAX_PROCESSOR_NAME) == 0;
            if (seen) continue;
            if ((*out)[0] != '\0') strcat(*out, ",");
            strcat(*out, h);
        }
    }
    FLEXCL_CALL(bcast_string(comm, rank, out));
done:
    free(all);
    return err;
}

flexcl_code flexcl_provenance_write(MPI_Comm comm, flexcl_results *r,
                                    const flexcl_provenance *p)
{
    flexcl_code err = FLEXCL_OK;
    int rank = 0, size = 0, local_bad = 0, bad = 0;
    char *mpi = NULL, *io = NULL, *hdf5 = NULL, *blas = NULL, *hosts = NULL;
    char start[32], end[32];
    const char *describe = flexcl_git_describe();

    FLEXCL_MPI(MPI_Comm_rank(comm, &rank));
    FLEXCL_MPI(MPI_Comm_size(comm, &size));
    local_bad = r == NULL || p == NULL;
    FLEXCL_MPI(MPI_Allreduce(&local_bad, &bad, 1, MPI_INT, MPI_MAX, comm));
    FLEXCL_CHECK(!bad, FLEXCL_ERR_ARG,
                 "provenance: the results handle or the provenance is NULL on "
                 "at least one rank");

    if (rank == 0) err = local_versions(&mpi, &io, &hdf5, &blas);
    local_bad = err != FLEXCL_OK;
    FLEXCL_MPI(MPI_Allreduce(&local_bad, &bad, 1, MPI_INT, MPI_MAX, comm));
    if (err != FLEXCL_OK) FLEXCL_CALL(err);
    FLEXCL_CHECK(!bad, FLEXCL_ERR_MPI, "provenance: rank 0 could not query versions");
    FLEXCL_CALL(bcast_string(comm, rank, &mpi));
    FLEXCL_CALL(bcast_string(comm, rank, &io));
    FLEXCL_CALL(bcast_string(comm, rank, &hdf5));
    FLEXCL_CALL(bcast_string(comm, rank, &blas));
    FLEXCL_CALL(gather_hosts(comm, rank, size, &hosts));
    format_time(p->start_time, start);
    format_time(p->end_time, end);

    FLEXCL_CALL(flexcl_results_attr_string(r, "/", "flexcl_version", flexcl_version()));
    FLEXCL_CALL(flexcl_results_attr_string(r, "/", "git_describe", describe));
    FLEXCL_CALL(flexcl_results_attr_int(r, "/", "git_dirty",
                                        strstr(describe, "dirty") != NULL));
    FLEXCL_CALL(flexcl_results_attr_string(r, "/", "job_text",
                                           p->job_text ? p->job_text : ""));
    FLEXCL_CALL(flexcl_results_attr_string(r, "/", "job_file",
                                           p->job_file ? p->job_file : ""));
    FLEXCL_CALL(flexcl_results_attr_string(r, "/", "command_line",
                                           p->command_line ? p->command_line : ""));
    FLEXCL_CALL(flexcl_results_attr_string(r, "/", "mpi_library", mpi));
    FLEXCL_CALL(flexcl_results_attr_string(r, "/", "mpi_io", io));
    FLEXCL_CALL(flexcl_results_attr_int(r, "/", "mpi_ranks", size));
    FLEXCL_CALL(flexcl_results_attr_int(r, "/", "omp_threads", p->omp_threads));
    FLEXCL_CALL(flexcl_results_attr_string(r, "/", "hdf5_version", hdf5));
    FLEXCL_CALL(flexcl_results_attr_string(r, "/", "blas_config", blas));
    FLEXCL_CALL(flexcl_results_attr_string(r, "/", "hosts", hosts));
    FLEXCL_CALL(flexcl_results_attr_string(r, "/", "start_time", start));
    FLEXCL_CALL(flexcl_results_attr_string(r, "/", "end_time", end));
    FLEXCL_CALL(flexcl_results_attr_int(r, "/", "schema_version",
                                        FLEXCL_SCHEMA_VERSION));
done:
    free(mpi);
    free(io);
    free(hdf5);
    free(blas);
    free(hosts);
    return err;
}
