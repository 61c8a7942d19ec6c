/**
 * Data-parallel training on Spark for any objective (dense, PST, AST): shards of blocks cached on executors,
 * gradient-synchronised steps or parameter averaging summed in partition order, the run directory with its
 * checkpoints, {@code state.json} and {@code metrics.jsonl}, and exact resume.
 */
package org.sparseft.driver.train;
