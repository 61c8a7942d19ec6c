/**
 * Operations on one machine: a long-running local HDFS (Hadoop's MiniDFSCluster) for trying sparseft against {@code
 * hdfs://} paths; the launchers, cluster scripts and Spark settings live beside this module in {@code deploy/}.
 */
package org.sparseft.deploy;
