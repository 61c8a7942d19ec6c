/**
 * PST, parameter-efficient sparse training: importance from |W| plus low-rank and row/column terms over a frozen
 * model, its sparsity schedule, and the straight-through gradients of the few tensors that train.
 */
package org.sparseft.pst;
