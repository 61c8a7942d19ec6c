/**
 * The evaluate job: its spec, the service that runs it on a Spark session, and its typed result.
 */
package org.sparseft.jobs.evaluate;
