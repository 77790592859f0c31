/* flexcl/provenance.h — what produced a results file.
 *
 * Root attributes written: flexcl_version, git_describe (with "+dirty" when
 * the tree had local changes), git_dirty (0/1), job_text (verbatim),
 * job_file, command_line, mpi_library, mpi_ranks, omp_threads, hdf5_version,
 * blas_config, hosts (unique host names of the ranks, comma-separated),
 * start_time and end_time (UTC, ISO 8601), schema_version.
 */
#ifndef FLEXCL_PROVENANCE_H
#define FLEXCL_PROVENANCE_H

#include <mpi.h>
#include <time.h>

#include "flexcl/error.h"
#include "flexcl/results.h"

#ifdef __cplusplus
extern "C" {
#endif

#define FLEXCL_SCHEMA_VERSION 2

typedef struct {
    const char *job_text;
    const char *job_file;
    const char *command_line;
    int omp_threads;
    time_t start_time;
    time_t end_time;
} flexcl_provenance;

/* Library version string "MAJOR.MINOR.PATCH" and the build's git description. */
const char *flexcl_version(void);
const char *flexcl_git_describe(void);

/* Write the provenance attributes on "/" of r. Collective on comm (host
 * names are gathered); comm must be the results file's communicator. */
flexcl_code flexcl_provenance_write(MPI_Comm comm, flexcl_results *r,
                                    const flexcl_provenance *p);

#ifdef __cplusplus
}
#endif
#endif /* FLEXCL_PROVENANCE_H */
