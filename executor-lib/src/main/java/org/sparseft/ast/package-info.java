/**
 * AST, alternating sparse training: N:M masks re-selected during training, pruned weights decayed, distillation
 * from the dense teacher, and SLoRB's low-rank branch beside the masked weights.
 */
package org.sparseft.ast;
