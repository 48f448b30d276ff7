/* nl — see LICENSE. The BLAS gemm of a kernel's precision (NLK_GEMM: cblas_sgemm, or
 * cblas_dgemm with NLK_F64), for the kernels that call one. Include after real.h. */
#ifndef NLK_BLAS_H
#define NLK_BLAS_H
#ifdef NL_BLAS_OPENBLAS
#include <cblas.h>
#ifdef NLK_F64
#define NLK_GEMM cblas_dgemm
#else
#define NLK_GEMM cblas_sgemm
#endif
#endif
#endif
