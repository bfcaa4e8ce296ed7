import { DomainError } from '../errors.ts';

/**
 * Memory too small for a useful run: fewer usable chunks than `L2_MIN_CHUNKS`, or fewer training
 * examples than `L2_MIN_EXAMPLES` once grounding and the split are done. Nothing is trained.
 */
export class NotEnoughMemoryError extends DomainError {
  readonly code = 'NOT_ENOUGH_MEMORY';
  /** What fell short: usable memory chunks, or training examples. */
  readonly measure: 'chunks' | 'examples';
  readonly have: number;
  readonly need: number;
  constructor(measure: 'chunks' | 'examples', have: number, need: number) {
    super(
      measure === 'chunks'
        ? `memory holds ${have} usable chunk${have === 1 ? '' : 's'}; training needs at least ${need}: upload more of your own writing and let memory rebuild`
        : `memory yields ${have} training example${have === 1 ? '' : 's'}; training needs at least ${need}: upload more of your own writing and let memory rebuild`,
    );
    this.measure = measure;
    this.have = have;
    this.need = need;
  }
}
