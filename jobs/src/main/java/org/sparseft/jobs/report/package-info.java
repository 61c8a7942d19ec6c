/**
 * Reports and plots: a pipeline run's {@code report.json} and {@code report.md}, PNG charts, the metrics lines
 * training writes, and the build and runtime versions every output records.
 */
package org.sparseft.jobs.report;
