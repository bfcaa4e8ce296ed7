import { describe, expect, it } from 'vitest';
import { createOutput } from '../output.ts';
import { evaluationTable } from './train.ts';

function captured(run: Parameters<typeof evaluationTable>[1]): string[] {
  const lines: string[] = [];
  const out = { ...createOutput({}), color: false, line: (text = '') => void lines.push(text) };
  out.bold = (t) => t;
  evaluationTable(out, run);
  return lines;
}

describe('the evaluation table of twin train --follow', () => {
  it('has a row per numeric score and a column per model that was scored', () => {
    const lines = captured({
      evaluation: {
        status: 'DONE',
        promote: false,
        reason: 'the candidate scored below the base model',
        scores: {
          candidate: { groundedness: 0.41, refusalAccuracy: 1, items: 3, model: 'twin:u@r1' },
          base: { groundedness: 0.625, refusalAccuracy: 0.5, items: 3 },
        },
      },
    });
    expect(lines).toEqual([
      'Evaluation done: keep the current model (the candidate scored below the base model)',
      'METRIC           CANDIDATE  BASE',
      'groundedness     0.410      0.625',
      'refusalAccuracy  1          0.500',
      'items            3          3',
    ]);
  });

  it('says so when the run was never evaluated', () => {
    expect(captured({ evaluation: null })).toEqual(['no evaluation']);
  });
});
