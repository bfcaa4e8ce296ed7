import { styleText } from 'node:util';

// How the CLI writes: plain text for pipes and files (no escape codes), colour and bars only on a
// terminal, JSON for scripts (--json), and every failure as one line on stderr with a non-zero exit.

/** A failure to report as one line (`twin: …`) with this exit code. */
export class CliError extends Error {
  readonly exitCode: number;
  constructor(message: string, exitCode = 1) {
    super(message);
    this.name = 'CliError';
    this.exitCode = exitCode;
  }
}

export interface Output {
  json: boolean;
  /** stdout is a terminal and colour is not turned off. */
  color: boolean;
  /** stderr is a terminal: progress bars may be drawn there. */
  bars: boolean;
  line(text?: string): void;
  write(text: string): void;
  printJson(value: unknown): void;
  dim(text: string): string;
  bold(text: string): string;
  red(text: string): string;
  green(text: string): string;
}

export function createOutput(options: { json?: boolean }): Output {
  const json = options.json === true;
  const noColor = process.env.NO_COLOR !== undefined && process.env.NO_COLOR !== '';
  const color = !json && process.stdout.isTTY === true && !noColor && process.env.TERM !== 'dumb';
  const style = (format: Parameters<typeof styleText>[0]) => (text: string) =>
    color ? styleText(format, text, { validateStream: false }) : text;
  return {
    json,
    color,
    bars: !json && process.stderr.isTTY === true && process.env.TERM !== 'dumb',
    line: (text = '') => process.stdout.write(`${text}\n`),
    write: (text) => process.stdout.write(text),
    printJson: (value) => process.stdout.write(`${JSON.stringify(value, null, 2)}\n`),
    dim: style('dim'),
    bold: style('bold'),
    red: style('red'),
    green: style('green'),
  };
}

/** Control characters of server-supplied text (a filename, a passage) never reach the terminal raw. */
export function printable(text: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: removing them is the point
  return text.replace(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g, '');
}

/** One line: whitespace folded, cut to `width` characters with an ellipsis. */
export function oneLine(text: string, width: number): string {
  const flat = printable(text).replace(/\s+/g, ' ').trim();
  return flat.length <= width ? flat : `${flat.slice(0, Math.max(0, width - 1))}…`;
}

/** Columns padded to the widest cell (the last column is not padded). */
export function table(rows: string[][]): string[] {
  const widths: number[] = [];
  for (const row of rows)
    for (const [i, cell] of row.entries()) widths[i] = Math.max(widths[i] ?? 0, cell.length);
  return rows.map((row) =>
    row
      .map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd(),
  );
}

export const kib = (bytes: number) =>
  bytes < 1024
    ? `${bytes} B`
    : bytes < 1024 * 1024
      ? `${(bytes / 1024).toFixed(1)} KiB`
      : `${(bytes / 1024 / 1024).toFixed(1)} MiB`;

export const terminalWidth = () => (process.stdout.isTTY ? process.stdout.columns : 100);
