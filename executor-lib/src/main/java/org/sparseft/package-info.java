/**
 * sparseft's numeric core (no Spark types) and the errors every layer shares: {@code BadInputException} (exit 2)
 * for input or settings sparseft cannot accept, {@code RuntimeFailure} (exit 3) for failures on valid input.
 * Messages name settings as templates, so the command line, a recipe and the Java API each name them as their users
 * write them.
 */
package org.sparseft;
