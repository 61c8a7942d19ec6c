/**
 * Forward and backward passes of the layers both model families are built from, as static functions on ND4J
 * arrays. Activations are matrices {@code [N, features]} with {@code N = batch · seqlen} rows (row {@code b·T + t}),
 * so every linear layer is one large GEMM; linear weights are {@code [out, in]} (Hugging Face {@code nn.Linear}).
 * Each op works in the dtype of its inputs, which lets the tests check gradients in float64 against finite
 * differences while training runs in float32.
 *
 * <p>Attention batches all heads into rank-3 products ({@code Nd4j.matmul}): measured on the 2-core build machine
 * for GPT-2-small attention (96 = 8·12 heads, T = 256, head size 64), {@code q·kᵀ} ran at about 47 GFLOP/s batched
 * against 14 GFLOP/s as a loop of per-head {@code gemm} calls.
 */
package org.sparseft.model.ops;
