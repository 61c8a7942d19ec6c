/**
 * Training in one JVM, and the halves of a step that data-parallel training runs in different JVMs: the {@code
 * Objective} a run optimises, AdamW, learning-rate schedules and the seeded order of a shard's blocks.
 */
package org.sparseft.train;
