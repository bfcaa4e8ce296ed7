import { readdir, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { MultiBar, Presets, type SingleBar } from 'cli-progress';
import type { UploadProgress, UploadResult } from '../../../sdk/node.ts';
import { CliError, oneLine, printable } from '../output.ts';
import { type GlobalOptions, withSession } from '../session.ts';

// How far along an ingest is, in percent, from its stage (and done/total within the stage).
const STAGE_SPAN: Record<string, [number, number]> = {
  QUEUED: [0, 0],
  EXTRACTING: [5, 20],
  CHUNKING: [20, 35],
  EMBEDDING: [35, 85],
  INDEXING: [85, 99],
  DONE: [100, 100],
  FAILED: [100, 100],
};

function percentOf(p: UploadProgress): number {
  const [from, to] = STAGE_SPAN[p.stage] ?? [0, 0];
  const within = p.total > 0 ? Math.min(1, p.done / p.total) : 0;
  return Math.round(from + (to - from) * within);
}

/** Every regular file under the paths, folders walked recursively (hidden entries skipped inside). */
async function filesOf(paths: string[]): Promise<string[]> {
  const found: string[] = [];
  const walk = async (path: string, top: boolean) => {
    let info: Awaited<ReturnType<typeof stat>>;
    try {
      info = await stat(path);
    } catch {
      throw new CliError(`no such file or folder: ${path}`);
    }
    if (info.isDirectory()) {
      const entries = (await readdir(path)).sort();
      for (const entry of entries) if (!entry.startsWith('.')) await walk(join(path, entry), false);
    } else if (info.isFile()) found.push(path);
    else if (top) throw new CliError(`not a file or folder: ${path}`);
  };
  for (const path of paths) await walk(path, true);
  if (found.length === 0) throw new CliError('nothing to upload: the folders hold no files');
  return found;
}

const describe = (r: UploadResult) =>
  r.status === 'REFUSED' ? `refused: ${r.reason ?? r.code}` : `failed: ${r.reason ?? 'failed'}`;

/** `twin upload <paths…>`: uploads, shows a bar per active file and a total, then the failures. */
export async function upload(paths: string[], options: GlobalOptions): Promise<void> {
  const files = await filesOf(paths);
  await withSession(options, async ({ out, client }) => {
    const names = files.map((f) => printable(basename(f)));
    const nameWidth = Math.min(32, Math.max(...names.map((n) => n.length)));
    const multibar = out.bars
      ? new MultiBar(
          {
            stream: process.stderr,
            format: '{name} {bar} {percentage}% {stage}',
            barsize: 30,
            hideCursor: true,
            clearOnComplete: false,
            stopOnComplete: false,
            autopadding: true,
          },
          Presets.shades_classic,
        )
      : undefined;
    const percent = new Map<string, number>();
    const active = new Map<string, SingleBar>();
    let settled = 0;
    const total = multibar?.create(files.length * 100, 0, {
      name: 'total'.padEnd(nameWidth),
      stage: `0/${files.length} files`,
    });
    const onProgress = (p: UploadProgress) => {
      const value = percentOf(p);
      percent.set(p.documentId, value);
      const finished = p.stage === 'DONE' || p.stage === 'FAILED';
      if (finished) settled++;
      if (!multibar || !total) return;
      const name = oneLine(p.filename, nameWidth).padEnd(nameWidth);
      let bar = active.get(p.documentId);
      if (!bar && !finished) {
        bar = multibar.create(100, 0, { name, stage: '' });
        active.set(p.documentId, bar);
      }
      bar?.update(value, { name, stage: p.stage.toLowerCase() });
      if (finished) {
        // a finished file leaves the bars for a line above them (logged first: remove redraws)
        multibar.log(`${p.stage === 'DONE' ? 'done  ' : 'failed'} ${name.trimEnd()}\n`);
        if (bar) multibar.remove(bar);
        active.delete(p.documentId);
      }
      const sum = [...percent.values()].reduce((a, b) => a + b, 0);
      total.update(sum, { stage: `${settled}/${files.length} files` });
    };

    let results: UploadResult[];
    try {
      results = await client.uploadFiles(files, { onProgress });
    } finally {
      if (total && multibar) {
        // refused files have no ingest events: they count as finished here
        total.update(files.length * 100, { stage: `${files.length}/${files.length} files` });
        multibar.stop();
      }
    }
    const failed = results.filter((r) => r.status === 'FAILED' || r.status === 'REFUSED');
    if (failed.length > 0) process.exitCode = 1;
    if (out.json)
      return out.printJson(
        results.map((r) => ({
          filename: r.filename,
          status: r.status,
          reason: r.reason,
          code: r.code,
          documentId: r.document?.id ?? null,
          duplicate: r.upload.__typename === 'DuplicateDocument',
        })),
      );
    if (!out.bars)
      for (const r of results) if (r.status === 'PROCESSED') out.line(`processed  ${printable(r.filename)}`);
    const ok = results.length - failed.length;
    out.line(
      `${ok} of ${results.length} file${results.length === 1 ? '' : 's'} processed${failed.length ? `, ${failed.length} failed:` : ''}`,
    );
    for (const r of failed)
      out.line(`  ${out.red('✗')} ${printable(r.filename)}: ${oneLine(describe(r), 200)}`);
  });
}
