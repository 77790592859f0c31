/* Private: GEMM whose rounding never depends on the thread count, for the
 * feed-forward learners (ff.c, dualprop.c) and the RBM's label error
 * (rbm.c). OpenBLAS 0.3.21's own threaded GEMM splits work differently at 1
 * and 2 threads (docs/performance.md), so products are cut into fixed
 * blocks of rows of C, each one single-threaded cblas_dgemm, spread over
 * OpenMP threads. */
#ifndef FLEXCL_GEMM_H
#define FLEXCL_GEMM_H

#include <cblas.h>
#include <stddef.h>

/* C (M x N) = alpha op(A) op(B) + beta C, row-major, in fixed blocks of
 * rows of C over `threads` OpenMP threads; call between flexcl_blas_single
 * and flexcl_blas_restore. */
void flexcl_gemm_rows(int threads, CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, size_t M, size_t N,
                      size_t K, double alpha, const double *A, size_t lda, const double *B,
                      size_t ldb, double beta, double *C, size_t ldc);

/* Make OpenBLAS single-threaded; returns the count flexcl_blas_restore puts back. */
int flexcl_blas_single(void);
void flexcl_blas_restore(int n);

/* threads > 0 as given, else omp_get_max_threads(). */
int flexcl_thread_count(int threads);

#endif
