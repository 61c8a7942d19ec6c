/**
 * The native libraries under ND4J: a processor-safe OpenBLAS kernel choice made before the library loads, and a
 * start-up check that the BLAS and LAPACK results sparseft relies on are right on this machine.
 */
package org.sparseft.numerics;
