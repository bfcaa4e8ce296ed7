import { fileTypeFromBuffer } from 'file-type';

export const FORMATS = [
  'txt',
  'md',
  'html',
  'pdf',
  'docx',
  'pptx',
  'xlsx',
  'odt',
  'epub',
  'chat-json',
  'json',
  'zip',
] as const;
export type Format = (typeof FORMATS)[number];

export const MIME: Record<Format, string> = {
  txt: 'text/plain',
  md: 'text/markdown',
  html: 'text/html',
  pdf: 'application/pdf',
  docx: 'application/vnd.openxmlformats-officedocument.wordprocessingml.document',
  pptx: 'application/vnd.openxmlformats-officedocument.presentationml.presentation',
  xlsx: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
  odt: 'application/vnd.oasis.opendocument.text',
  epub: 'application/epub+zip',
  'chat-json': 'application/vnd.twin.chat+json',
  json: 'application/json',
  zip: 'application/zip',
};

export function formatOfMime(mime: string): Format | undefined {
  return (Object.keys(MIME) as Format[]).find((f) => MIME[f] === mime);
}

/** Whether the bytes look like text: valid UTF-8 (or UTF-16 with BOM) without binary control bytes. */
export function looksLikeText(head: Uint8Array, complete: boolean): boolean {
  if (head.length === 0) return true;
  if ((head[0] === 0xff && head[1] === 0xfe) || (head[0] === 0xfe && head[1] === 0xff)) return true;
  // a multi-byte character cut at the end of a partial head is not an error
  const end = complete ? head.length : Math.max(0, head.length - 4);
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(head.subarray(0, end));
  } catch {
    return false;
  }
  let control = 0;
  for (let i = 0; i < end; i++) {
    const b = head[i]!;
    if (b === 0) return false;
    if (b < 0x20 && b !== 0x09 && b !== 0x0a && b !== 0x0d && b !== 0x0c) control++;
  }
  return control <= end / 100;
}

function isChatJson(value: unknown): boolean {
  const chats = Array.isArray(value) ? value : [value];
  return (
    chats.length > 0 &&
    chats.every(
      (c) =>
        typeof c === 'object' &&
        c !== null &&
        Array.isArray((c as { messages?: unknown }).messages) &&
        ((c as { messages: unknown[] }).messages as unknown[]).every(
          (m) =>
            typeof m === 'object' &&
            m !== null &&
            typeof (m as { content?: unknown }).content === 'string' &&
            typeof (m as { role?: unknown }).role === 'string',
        ),
    )
  );
}

function sniffText(head: Uint8Array, complete: boolean, filename: string): Format {
  const text = new TextDecoder().decode(head.subarray(0, 8192)).replace(/^\uFEFF/, '');
  const start = text.trimStart();
  if (complete && (start.startsWith('{') || start.startsWith('['))) {
    try {
      return isChatJson(JSON.parse(new TextDecoder().decode(head))) ? 'chat-json' : 'json';
    } catch {
      // not JSON after all: plain text
    }
  }
  if (/^<!doctype html|^<html[\s>]|<(body|head|div|p|article|section)[\s>]/i.test(start.slice(0, 2048))) {
    return 'html';
  }
  // text variants differ only in markup: the name is a hint here, never the gate for safety
  if (/\.(md|markdown)$/i.test(filename) || /^#{1,6}\s|^\s*[-*]\s|\]\(https?:/m.test(start)) return 'md';
  return 'txt';
}

/**
 * The format from the bytes. `head` is the start of the file (`complete` when it is all of it).
 * Returns undefined for formats we cannot extract (images, executables, …).
 */
export async function sniffFormat(
  head: Uint8Array,
  complete: boolean,
  filename: string,
): Promise<Format | undefined> {
  const detected = await fileTypeFromBuffer(head).catch(() => undefined);
  if (detected) {
    switch (detected.ext) {
      case 'pdf':
      case 'docx':
      case 'pptx':
      case 'xlsx':
      case 'odt':
      case 'epub':
        return detected.ext;
      case 'zip':
        // the head may end before the entry that names an office format: decided on the full file
        return 'zip';
      default:
        return undefined;
    }
  }
  if (looksLikeText(head, complete)) return sniffText(head, complete, filename);
  return undefined;
}
