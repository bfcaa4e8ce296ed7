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

/** Why bytes are not text, or undefined when they are. */
export type TextProblem = 'binary' | 'not-utf8';

// A stray Latin-1 byte or a truncated last character must not cost the whole document: up to one
// invalid UTF-8 sequence per 1000 characters is decoded as U+FFFD (visible in citations). More
// than that is a legacy encoding or binary, which would index as garbage: refused.
const MAX_INVALID_PER_CHAR = 1 / 1000;

function utf16Bom(bytes: Uint8Array): 'utf-16le' | 'utf-16be' | undefined {
  if (bytes[0] === 0xff && bytes[1] === 0xfe) return 'utf-16le';
  if (bytes[0] === 0xfe && bytes[1] === 0xff) return 'utf-16be';
  return undefined;
}

/**
 * Whether the bytes are text: UTF-8 (or UTF-16 with a BOM) without NULs or binary control
 * characters. `complete` is false for a head cut from a longer file.
 */
export function textProblem(bytes: Uint8Array, complete: boolean): TextProblem | undefined {
  if (bytes.length === 0) return undefined;
  const utf16 = utf16Bom(bytes);
  let text: string;
  if (utf16) {
    // a head may end inside a surrogate pair: drop its last code units
    const end = complete ? bytes.length : Math.max(2, bytes.length - (bytes.length % 2) - 4);
    try {
      text = new TextDecoder(utf16, { fatal: true }).decode(bytes.subarray(2, end));
    } catch {
      return 'binary';
    }
  } else {
    // a multi-byte character cut at the end of a partial head is not an error
    const body = bytes.subarray(0, complete ? bytes.length : Math.max(0, bytes.length - 4));
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(body);
    } catch {
      text = new TextDecoder('utf-8').decode(body);
      let invalid = 0;
      for (let i = text.indexOf('\uFFFD'); i >= 0; i = text.indexOf('\uFFFD', i + 1)) invalid++;
      if (invalid > text.length * 0.3) return 'binary';
      if (invalid > Math.max(1, text.length * MAX_INVALID_PER_CHAR)) return 'not-utf8';
    }
  }
  let nul = 0;
  let control = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0) nul++;
    else if (c < 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d && c !== 0x0c) control++;
  }
  if (nul > Math.floor(text.length / 10_000) || control > text.length / 100) return 'binary';
  return undefined;
}

/** Whether the bytes look like text (see textProblem). */
export function looksLikeText(head: Uint8Array, complete: boolean): boolean {
  return textProblem(head, complete) === undefined;
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
