/**
 * What every job's service runs with and checks: the caller's session and progress output, lazily started sessions
 * for pipelines, data inputs (text or tokens), output path checks and checkpoint copies.
 */
package org.sparseft.jobs.service;
