/**
 * {@code sparseft run}: a YAML recipe's stages bound to the jobs' specs before anything runs, then run in order
 * under one re-runnable run directory, each stage skipped when its settings and inputs are unchanged.
 */
package org.sparseft.jobs.pipeline;
