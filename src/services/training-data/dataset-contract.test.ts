import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { l2Keys } from '../tenant-keys.ts';
import { fixture } from './fixture.test-helpers.ts';
import { DEFAULT_TRAINING_DATA_OPTIONS, generateTrainingData } from './training-data.service.ts';

// dataset.json is the trainer's input: it must pass modal/'s own validate_records and encode with
// the tiny model's tokenizer (assistant turns labelled), run by the Python that trains. The venv is
// built by `npm run modal:setup` (modal/scripts/setup.sh); without it this check cannot run here.

const PYTHON = join(homedir(), '.cache/digital-twin/venv-modal/bin/python');
const CHECK = `
import json, sys, tempfile, pathlib
sys.path.insert(0, 'modal')
from twin_gpu.dataset import IGNORE_INDEX, encode_dataset, validate_records
from twin_gpu.tiny_model import build_tiny_model
from transformers import AutoTokenizer
tokenizer = AutoTokenizer.from_pretrained(build_tiny_model(pathlib.Path(tempfile.mkdtemp()) / 'tiny'))
out = []
for path in sys.argv[1:]:
    records = validate_records(json.load(open(path)))
    examples = encode_dataset(tokenizer, records, 2048)
    labelled = sum(1 for e in examples if any(label != IGNORE_INDEX for label in e.labels))
    out.append({"records": len(records), "examples": len(examples), "labelled": labelled})
print(json.dumps(out))
`;
const VALIDATE_ONLY = `
import json, sys
sys.path.insert(0, 'modal')
from twin_gpu.dataset import validate_records
validate_records(json.load(open(sys.argv[1])))
`;

const EXAMPLE = join(import.meta.dirname, '../../../contracts/dataset.example.json');

/** One record of each type from the fixture, as the generator writes them (the shared example). */
async function exampleRecords() {
  const { dataset } = await generateTrainingData(fixture().material, {
    runId: 'run-example',
    seed: 42,
    textModel: null,
    embedder: null,
    options: { ...DEFAULT_TRAINING_DATA_OPTIONS, minExamples: 10 },
  });
  const types = ['preference', 'diversity', 'selfqa', 'abstention'];
  return types.map((t) => dataset.find((r) => r.type === t)).filter((r) => r !== undefined);
}

describe('contracts/dataset.example.json', () => {
  // UPDATE_CONTRACTS=1 rewrites it after a deliberate change of the format
  it('is what the generator writes today, and what the trainer check below also validates', async () => {
    const records = await exampleRecords();
    expect(records).toHaveLength(4);
    const text = `${JSON.stringify(records, null, 2)}\n`;
    if (process.env.UPDATE_CONTRACTS === '1') await writeFile(EXAMPLE, text);
    expect(await readFile(EXAMPLE, 'utf8')).toBe(text);
  });
});

const dirs: string[] = [];
afterAll(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

describe.skipIf(!existsSync(PYTHON))('dataset.json against the trainer', () => {
  it('passes validate_records and encodes every record with labelled assistant turns', async () => {
    const { files, dataset } = await generateTrainingData(fixture().material, {
      runId: 'run-contract',
      seed: 42,
      textModel: null,
      embedder: null,
      options: { ...DEFAULT_TRAINING_DATA_OPTIONS, minExamples: 10 },
    });
    const dir = await mkdtemp(join(tmpdir(), 'l2-contract-'));
    dirs.push(dir);
    const path = join(dir, 'dataset.json');
    await writeFile(path, files.get(l2Keys.dataset('run-contract'))!);
    const { stdout } = await promisify(execFile)(PYTHON, ['-c', CHECK, path, EXAMPLE], {
      cwd: join(import.meta.dirname, '../../..'),
      env: { ...process.env, TRANSFORMERS_VERBOSITY: 'error', HF_HUB_OFFLINE: '1' },
      timeout: 110_000,
    });
    const [result, example] = JSON.parse(stdout.trim().split('\n').at(-1)!);
    expect(result).toEqual({ records: dataset.length, examples: dataset.length, labelled: dataset.length });
    const n = (JSON.parse(await readFile(EXAMPLE, 'utf8')) as unknown[]).length;
    expect(example).toEqual({ records: n, examples: n, labelled: n });

    // a record without an assistant turn is refused: the check above could fail
    await writeFile(path, JSON.stringify([{ messages: [{ role: 'user', content: 'hi' }] }]));
    await expect(
      promisify(execFile)(PYTHON, ['-c', VALIDATE_ONLY, path], {
        cwd: join(import.meta.dirname, '../../..'),
        timeout: 30_000,
      }),
    ).rejects.toThrow(/no non-empty assistant message/);
  }, 180_000);
});
