/**
 * The Spark layer's entry: how a session is made ({@code SparkSessions}: Kryo with registration required, quiet
 * local mode) and every class that travels between JVMs registered with Kryo. The work itself is in the sub-
 * packages: text and token data, layer-by-layer pruning, data-parallel training and distributed evaluation.
 */
package org.sparseft.driver;
