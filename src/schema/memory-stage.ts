import { MEMORY_STAGES } from '../services/ports/memory.ts';
import { builder } from './builder.ts';

export const MemoryStageEnum = builder.enumType('MemoryStage', {
  description: 'A step of an L1 memory build, in order; DONE and FAILED end it.',
  values: MEMORY_STAGES,
});
