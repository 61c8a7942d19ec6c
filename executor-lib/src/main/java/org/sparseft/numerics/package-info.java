/**
 * The native libraries under ND4J and how sparseft uses them: a processor-safe OpenBLAS kernel choice made before the
 * library loads, a start-up check that the BLAS and LAPACK results sparseft relies on are right on this machine,
 * the float64 Cholesky factors and triangular inverses SparseGPT needs, and the ND4J workspaces each training or
 * calibration step allocates in, and heap copies of arrays that free their native temporaries at once.
 */
package org.sparseft.numerics;
