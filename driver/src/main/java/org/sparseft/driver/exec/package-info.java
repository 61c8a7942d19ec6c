/**
 * What runs inside tasks, shared by every distributed job: storage and models made once per executor JVM (models by
 * checkpoint path and content hash), GPU pinning of a task, and one Spark job whose per-partition results the
 * driver consumes in partition order, the basis of every fixed-order sum.
 */
package org.sparseft.driver.exec;
