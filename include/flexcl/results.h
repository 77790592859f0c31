/* flexcl/results.h — the HDF5 results file, written with parallel HDF5.
 *
 * A results file is created as "<path>.partial" and renamed to <path> only
 * by flexcl_results_finish(), after every dataset has been written and the
 * file closed; a run that fails or is killed leaves at most a ".partial"
 * file, never one that looks complete. All calls are collective on the
 * communicator given at create time, and every rank passes the same group
 * names, dataset shapes and attribute values (data blocks differ per rank).
 * HDF5's automatic error printing is switched off; failures come back as
 * FLEXCL_ERR_HDF5 with the object named. Before each call that writes, the
 * disk space the file can grow into is reserved (on rank 0, with fallocate;
 * a file system without it gets a free-space check), so that a full disk or
 * quota fails every rank with FLEXCL_ERR_NOSPACE, naming the file, before
 * any collective write (one failing inside it would leave the other ranks
 * waiting there). The finished file holds no reserved space past its end.
 */
#ifndef FLEXCL_RESULTS_H
#define FLEXCL_RESULTS_H

#include <mpi.h>
#include <stddef.h>
#include <stdint.h>

#include "flexcl/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct flexcl_results flexcl_results;

/* Create "<path>.partial" (truncating any earlier partial file) with the
 * MPI-IO driver on a duplicate of comm. Fails with FLEXCL_ERR_IO naming the
 * path when the directory does not exist or is not writable. Collective. */
flexcl_code flexcl_results_create(MPI_Comm comm, const char *path,
                                  flexcl_results **out);

/* Create a group (and missing parents), e.g. "points/000003". Collective. */
flexcl_code flexcl_results_group(flexcl_results *r, const char *group);

/* Attributes on an existing group or dataset ("/" is the root). Collective;
 * every rank passes the same value. */
flexcl_code flexcl_results_attr_string(flexcl_results *r, const char *object,
                                       const char *name, const char *value);
flexcl_code flexcl_results_attr_double(flexcl_results *r, const char *object,
                                       const char *name, double value);
flexcl_code flexcl_results_attr_int(flexcl_results *r, const char *object,
                                    const char *name, long long value);

/* How the chunks of a dataset are stored. */
typedef enum {
    FLEXCL_COMPRESSION_DEFLATE = 0, /* shuffle + deflate level 1: small files */
    FLEXCL_COMPRESSION_NONE = 1     /* no filter: several times faster to write,
                                     * larger files (run.sample_compression) */
} flexcl_compression;

/* Write a rows x cols double dataset (chunked, deflate-compressed) where this
 * rank supplies rows [first_row, first_row + n_rows) from data (row-major,
 * n_rows * cols values; n_rows may be 0). A dataset of cols = 0 is not
 * allowed; cols = 1 is stored as a 1-D dataset of length rows. Collective
 * (one collective write). */
flexcl_code flexcl_results_write_rows(flexcl_results *r, const char *dataset,
                                      size_t rows, size_t cols,
                                      size_t first_row, size_t n_rows,
                                      const double *data);
/* The same for 64-bit unsigned integers (step counters). */
flexcl_code flexcl_results_write_rows_u64(flexcl_results *r, const char *dataset,
                                          size_t rows, size_t cols,
                                          size_t first_row, size_t n_rows,
                                          const uint64_t *data);
/* The same two with the chunks stored as c says (the two above use
 * FLEXCL_COMPRESSION_DEFLATE). Unfiltered chunks are written without fill
 * values (every row must be written, as flexcl always does) and with
 * independent MPI-IO transfers (still a collective call). Every rank
 * passes the same c. Readers need not know: HDF5 undoes the filters. */
flexcl_code flexcl_results_write_rows_as(flexcl_results *r, const char *dataset,
                                         size_t rows, size_t cols, size_t first_row,
                                         size_t n_rows, const double *data,
                                         flexcl_compression c);
flexcl_code flexcl_results_write_rows_u64_as(flexcl_results *r, const char *dataset,
                                             size_t rows, size_t cols, size_t first_row,
                                             size_t n_rows, const uint64_t *data,
                                             flexcl_compression c);

/* Close the file and rename "<path>.partial" to path (rank 0 renames, then
 * all ranks agree on the outcome). Collective. After success the handle
 * only needs destroying. */
flexcl_code flexcl_results_finish(flexcl_results *r);

/* Release the handle; an unfinished file is closed and its ".partial" file
 * removed. NULL-safe; sets *r to NULL. Collective. */
void flexcl_results_destroy(flexcl_results **r);

/* Copy group src_group of the finished results file src_path (its
 * attributes, subgroups and datasets, recursively) into dst_group of r
 * ("/" copies onto the root); a dataset stored without filters is copied
 * without filters, every other one deflate-compressed. Every rank opens src_path read-only; rank 0
 * supplies the data. Only the types flexcl writes are copied (double and
 * uint64 datasets; string, double and integer attributes); anything else
 * fails with FLEXCL_ERR_DATA naming the file and object. Collective. */
flexcl_code flexcl_results_copy_tree(flexcl_results *r, const char *src_path,
                                     const char *src_group, const char *dst_group);

/* Copy only the attributes of src_object in src_path onto dst_object of r
 * (same types as flexcl_results_copy_tree). Collective. */
flexcl_code flexcl_results_copy_attrs(flexcl_results *r, const char *src_path,
                                      const char *src_object, const char *dst_object);

/* Read the string attribute `name` of `object` in the file at path into
 * buf (truncated at n − 1 bytes). A file that does not open or lacks the
 * attribute fails with FLEXCL_ERR_DATA naming both. Not collective. */
flexcl_code flexcl_results_read_attr_string(const char *path, const char *object,
                                            const char *name, char *buf, size_t n);

/* Check that path is a flexcl results file this version reads: it is a
 * regular file that opens as HDF5 (a truncated or damaged file does not),
 * its root attribute schema_version, when present, equals
 * FLEXCL_SCHEMA_VERSION, and, when job_hash is not NULL, its root attribute
 * job_hash equals job_hash (a file or checkpoint part of another job fails).
 * Fails with FLEXCL_ERR_DATA and a one-line message naming the file. The
 * copy and read functions above make the same file and schema checks, and
 * refuse links other than hard links, cycles, multi-valued attributes and
 * datasets with chunks missing. Not collective. */
flexcl_code flexcl_results_check_file(const char *path, const char *job_hash);

/* This process's rank in the results file's communicator. Not collective. */
int flexcl_results_rank(const flexcl_results *r);

/* The final path given at create time. */
const char *flexcl_results_path(const flexcl_results *r);

#ifdef __cplusplus
}
#endif
#endif /* FLEXCL_RESULTS_H */
