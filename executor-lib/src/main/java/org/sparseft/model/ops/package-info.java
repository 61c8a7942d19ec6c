/**
 * Forward and backward passes of the layers both model families are built from, as static functions on ND4J
 * arrays. Activations are matrices {@code [N, features]} with {@code N = batch · seqlen} rows (row {@code b·T + t}),
 * so every linear layer is one large GEMM; linear weights are {@code [out, in]} (Hugging Face {@code nn.Linear}).
 * Each op works in the dtype of its inputs, which lets the tests check gradients in float64 against finite
 * differences while training runs in float32.
 *
 * <p><b>Why hand-written rather than SameDiff.</b> Measured with {@code sparseft bench samediff} on the 2-core build
 * machine (one GPT-2-small block, vocabulary 256, 8 × 256 tokens): forward+backward took 1.64 s here against 3.79 s
 * through SameDiff's automatic differentiation, with a peak resident memory of 1.2 GB against 5.1 GB, and
 * SameDiff 1.0.0-M2.1 failed to differentiate two {@code gather} lookups in one graph. A hand-written backward also
 * gives the gradient with respect to each prunable linear's effective weight directly, which the sparse methods
 * need. Steps run in ND4J workspaces ({@link org.sparseft.numerics.Workspaces}). Figures: {@code docs/performance.md}.
 *
 * <p>Attention batches all heads into rank-3 products ({@code Nd4j.matmul}): measured on the 2-core build machine
 * for GPT-2-small attention (96 = 8·12 heads, T = 256, head size 64), {@code q·kᵀ} ran at about 47 GFLOP/s batched
 * against 14 GFLOP/s as a loop of per-head {@code gemm} calls.
 */
package org.sparseft.model.ops;
