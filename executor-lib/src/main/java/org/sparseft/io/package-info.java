/**
 * The storage seam: every path sparseft reads or writes goes through {@code Storage} (Hadoop's FileSystem
 * underneath, so {@code file://}, {@code hdfs://} and the other Hadoop schemes work alike), and outputs that appear
 * whole or not at all.
 */
package org.sparseft.io;
