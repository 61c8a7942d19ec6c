/**
 * Text in, token blocks out, on Spark: documents from any Hadoop URI (plain text, JSON Lines, Parquet) in a fixed
 * order, tokenized in parallel and cut into fixed-length blocks.
 */
package org.sparseft.driver.data;
