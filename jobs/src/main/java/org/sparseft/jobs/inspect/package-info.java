/**
 * The inspect job: what a checkpoint holds, tensor by tensor, read on this machine without Spark.
 */
package org.sparseft.jobs.inspect;
