/**
 * How job specifications are made: settings keyed as users write them (recipe keys, which are the command line's
 * flags without dashes) bound through each spec's builder, where the defaults are declared once; mistakes come out
 * as {@link org.sparseft.InvalidSettingException} naming the key, for each caller to render in its own terms.
 * The specs themselves live with their use case ({@code org.sparseft.jobs.prune}, ...).
 */
package org.sparseft.jobs.spec;
