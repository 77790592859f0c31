/* Deterministic GEMM and OpenBLAS thread control; see gemm.h. */
#include "gemm.h"

#include <cblas.h>
#include <omp.h>

/* Rows of C per block of the blocked GEMM: fixed, so the blocks (and thus
 * every rounding) do not depend on the thread count. */
enum { GEMM_BLOCK = 32 };

/* C (M × N) = alpha op(A) op(B) + beta C, row-major, computed as fixed
 * blocks of GEMM_BLOCK rows of C, one single-threaded cblas_dgemm each,
 * spread over `threads` OpenMP threads. OpenBLAS's own threading is not
 * thread-count invariant (0.3.21 splits differently at 1 and 2 threads), so
 * the callers run it single-threaded (see flexcl_blas_single). */
void flexcl_gemm_rows(int threads, CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb,
                        size_t M, size_t N, size_t K, double alpha,
                        const double *A, size_t lda, const double *B,
                        size_t ldb, double beta, double *C, size_t ldc)
{
    const size_t nb = (M + GEMM_BLOCK - 1) / GEMM_BLOCK;
    /* Small products stay on the calling thread (same blocks, same result). */
    const int par = nb > 1 && (double)M * (double)N * (double)K > 4e6;
#pragma omp parallel for num_threads(threads) schedule(static) if (par) \
    default(none) shared(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, nb)
    for (size_t i = 0; i < nb; ++i) {
        const size_t r0 = i * GEMM_BLOCK;
        const size_t m = M - r0 < GEMM_BLOCK ? M - r0 : GEMM_BLOCK;
        const double *Ai = ta == CblasNoTrans ? A + r0 * lda : A + r0;
        cblas_dgemm(CblasRowMajor, ta, tb, (int)m, (int)N, (int)K, alpha, Ai,
                    (int)lda, B, (int)ldb, beta, C + r0 * ldc, (int)ldc);
    }
}

/* Make OpenBLAS single-threaded for the duration of a call; returns the
 * count to restore with flexcl_blas_restore. */
int flexcl_blas_single(void)
{
    const int n = openblas_get_num_threads();
    if (n != 1) openblas_set_num_threads(1);
    return n;
}

void flexcl_blas_restore(int n)
{
    if (n != 1) openblas_set_num_threads(n);
}

int flexcl_thread_count(int threads)
{
    return threads > 0 ? threads : omp_get_max_threads();
}
