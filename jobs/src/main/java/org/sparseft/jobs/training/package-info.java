/**
 * What the training jobs (pretrain, finetune) share: their settings with each default declared once, and their
 * progress lines.
 */
package org.sparseft.jobs.training;
