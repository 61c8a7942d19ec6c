/**
 * The two ways in: the {@code sparseft} command line ({@code Main}, one command class per job, each a thin mapping
 * from its options to the job's spec) and the Java API for Spark applications ({@code SparseFT}). Both run the same
 * specs through the same services.
 */
package org.sparseft.jobs;
