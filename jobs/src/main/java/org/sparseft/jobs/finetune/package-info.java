/**
 * The finetune job: its spec, the service that runs it, and the two methods it trains (PST, AST) behind one
 * interface.
 */
package org.sparseft.jobs.finetune;
