import { convert as htmlToText } from 'html-to-text';
import type { PageSpan } from './chunker.ts';
import { ArchiveLimitError, CorruptArchiveError, repack, safeUnzip } from './safe-zip.ts';
import { type Format, sniffFormat, textProblem } from './sniff.ts';
import { attr, decodeXml, elements, stripTags, textOf } from './xml-text.ts';

export interface Extracted {
  format: Format;
  text: string;
  /** Page (pdf), slide (pptx) or sheet (xlsx) starts, as offsets into `text`. */
  pages?: PageSpan[];
}

/** A file that no retry can turn into text: corrupt, encrypted, image-only, unsupported. */
export class ExtractionError extends Error {
  readonly code = 'EXTRACTION_FAILED';
}

export interface ExtractOptions {
  maxUncompressedBytes: number;
}

function joinPages(parts: readonly string[]): { text: string; pages: PageSpan[] } {
  const pages: PageSpan[] = [];
  let text = '';
  parts.forEach((part, i) => {
    if (text.length > 0) text += '\n\n';
    pages.push({ page: i + 1, start: text.length });
    text += part.trim();
  });
  return { text, pages };
}

const utf8 = (bytes: Uint8Array | undefined) => (bytes ? new TextDecoder().decode(bytes) : '');
const byNumber = (a: string, b: string) =>
  Number(/(\d+)\.xml$/.exec(a)?.[1] ?? 0) - Number(/(\d+)\.xml$/.exec(b)?.[1] ?? 0);

function decodeText(bytes: Uint8Array): string {
  if (bytes[0] === 0xff && bytes[1] === 0xfe) return new TextDecoder('utf-16le').decode(bytes.subarray(2));
  if (bytes[0] === 0xfe && bytes[1] === 0xff) return new TextDecoder('utf-16be').decode(bytes.subarray(2));
  return new TextDecoder('utf-8').decode(bytes).replace(/^\uFEFF/, '');
}

// html-to-text: maintained, handles entities, block elements and tables; no DOM needed.
function html(source: string): string {
  return htmlToText(source, {
    wordwrap: false,
    selectors: [
      { selector: 'a', options: { ignoreHref: true } },
      { selector: 'img', format: 'skip' },
    ],
  });
}

interface ChatMessage {
  role: string;
  content: string;
}
interface ChatShape {
  title?: string;
  summary?: string;
  createTime?: string;
  messages: ChatMessage[];
}

function chat(source: string): string {
  const value = JSON.parse(source) as ChatShape | ChatShape[];
  const chats = Array.isArray(value) ? value : [value];
  return chats
    .map((c) =>
      [
        c.title ? `# ${c.title}` : '',
        c.summary ?? '',
        ...c.messages.map((m) => `${m.role}: ${m.content.trim()}`),
      ]
        .filter(Boolean)
        .join('\n\n'),
    )
    .join('\n\n');
}

// unpdf ships a serverless build of Mozilla's PDF.js (the reference text-layer extractor) with no
// canvas or worker setup, and keeps text per page.
async function pdf(bytes: Uint8Array): Promise<Extracted> {
  const { getDocumentProxy, extractText } = await import('unpdf');
  let pages: string[];
  try {
    const doc = await getDocumentProxy(new Uint8Array(bytes));
    ({ text: pages } = await extractText(doc, { mergePages: false }));
    await (doc as unknown as { cleanup?(): Promise<void> }).cleanup?.();
  } catch (error) {
    const name = (error as { name?: string }).name ?? '';
    if (name === 'PasswordException') throw new ExtractionError('the PDF is encrypted (password protected)');
    throw new ExtractionError(`the PDF cannot be read: ${(error as Error).message}`);
  }
  if (pages.every((p) => p.trim() === '')) {
    throw new ExtractionError('the PDF has no text layer (scanned or image-only); OCR is not supported');
  }
  return { format: 'pdf', ...joinPages(pages) };
}

async function docx(files: Map<string, Uint8Array>): Promise<string> {
  // mammoth: the maintained docx reader; it sees only entries our size-capped unzip verified
  const mammoth = await import('mammoth');
  const { value } = await mammoth.extractRawText({ buffer: Buffer.from(repack(files)) });
  return value;
}

function pptx(files: Map<string, Uint8Array>): { text: string; pages: PageSpan[] } {
  const slides = [...files.keys()].filter((n) => /^ppt\/slides\/slide\d+\.xml$/.test(n)).sort(byNumber);
  return joinPages(
    slides.map((name) =>
      elements(utf8(files.get(name)), 'a:p')
        .map((p) => textOf(p, 'a:t'))
        .filter((line) => line.trim())
        .join('\n'),
    ),
  );
}

function xlsx(files: Map<string, Uint8Array>): { text: string; pages: PageSpan[] } {
  const shared = elements(utf8(files.get('xl/sharedStrings.xml')), 'si').map((si) => textOf(si, 't'));
  const names = [...utf8(files.get('xl/workbook.xml')).matchAll(/<sheet\s[^>]*>/g)].map(
    (m) => attr(m[0], 'name') ?? '',
  );
  const sheets = [...files.keys()].filter((n) => /^xl\/worksheets\/sheet\d+\.xml$/.test(n)).sort(byNumber);
  return joinPages(
    sheets.map((name, i) => {
      const rows = elements(utf8(files.get(name)), 'row').map((row) =>
        [...row.matchAll(/<c(\s[^>]*)?(?:\/>|>([\s\S]*?)<\/c>)/g)]
          .map((cell) => {
            const type = attr(cell[1] ?? '', 't');
            const inner = cell[2] ?? '';
            if (type === 'inlineStr') return textOf(inner, 't');
            const v = textOf(inner, 'v');
            return type === 's' ? (shared[Number(v)] ?? '') : v;
          })
          .join('\t')
          .trimEnd(),
      );
      const title = names[i] ? `${names[i]}\n` : '';
      return title + rows.filter((r) => r.trim()).join('\n');
    }),
  );
}

function odt(files: Map<string, Uint8Array>): string {
  const xml = utf8(files.get('content.xml'))
    .replace(/<text:s(\s[^>]*)?\/>/g, ' ')
    .replace(/<text:tab\/>/g, '\t')
    .replace(/<text:line-break\/>/g, '\n');
  return [...xml.matchAll(/<text:(p|h)(?:\s[^>]*)?>([\s\S]*?)<\/text:\1>/g)]
    .map((m) => stripTags(m[2]!))
    .filter((p) => p.trim())
    .join('\n\n');
}

function epub(files: Map<string, Uint8Array>): string {
  const container = utf8(files.get('META-INF/container.xml'));
  const opfPath = /full-path="([^"]+)"/.exec(container)?.[1];
  const opf = opfPath ? utf8(files.get(opfPath)) : '';
  if (!opf) throw new ExtractionError('the EPUB has no package document');
  const base = opfPath!.includes('/') ? opfPath!.slice(0, opfPath!.lastIndexOf('/') + 1) : '';
  const hrefs = new Map<string, string>();
  for (const m of opf.matchAll(/<item\s[^>]*>/g)) {
    const id = attr(m[0], 'id');
    const href = attr(m[0], 'href');
    if (id && href) hrefs.set(id, decodeURIComponent(href));
  }
  const spine = [...opf.matchAll(/<itemref\s[^>]*>/g)].map((m) => attr(m[0], 'idref') ?? '');
  return spine
    .map((id) => hrefs.get(id))
    .filter((href): href is string => Boolean(href))
    .map((href) => html(decodeXml(utf8(files.get(base + href)))).trim())
    .filter(Boolean)
    .join('\n\n');
}

function zipFormat(files: Map<string, Uint8Array>): Format | undefined {
  const mimetype = utf8(files.get('mimetype')).trim();
  if (mimetype === 'application/epub+zip') return 'epub';
  if (mimetype === 'application/vnd.oasis.opendocument.text') return 'odt';
  if (files.has('word/document.xml')) return 'docx';
  if (files.has('ppt/presentation.xml')) return 'pptx';
  if (files.has('xl/workbook.xml')) return 'xlsx';
  return undefined;
}

function unsupported(bytes: Uint8Array): string {
  // a file that passed the upload's sniff of its head, then failed on the whole: say why
  switch (textProblem(bytes, true)) {
    case 'binary':
      return 'the file is binary, not text';
    case 'not-utf8':
      return 'the file is not UTF-8 text (nor UTF-16 with a byte-order mark)';
    default:
      return 'unsupported file type';
  }
}

/** Text of a stored upload. Throws ExtractionError for anything a retry cannot fix. */
export async function extractText(
  bytes: Uint8Array,
  filename: string,
  options: ExtractOptions,
): Promise<Extracted> {
  const format = await sniffFormat(bytes, true, filename);
  if (!format) throw new ExtractionError(unsupported(bytes));
  switch (format) {
    case 'txt':
    case 'md':
    case 'json':
      return { format, text: decodeText(bytes) };
    case 'html':
      return { format, text: html(decodeText(bytes)) };
    case 'chat-json':
      return { format, text: chat(decodeText(bytes)) };
    case 'pdf':
      return pdf(bytes);
    default:
      break;
  }
  let files: Map<string, Uint8Array>;
  try {
    files = safeUnzip(bytes, {
      maxTotalBytes: options.maxUncompressedBytes,
      // media never carries text: skip inflating it
      want: (name) => !/\.(png|jpe?g|gif|bmp|tiff?|emf|wmf|svg|mp[34]|wav|ttf|otf|woff2?|bin)$/i.test(name),
    });
  } catch (error) {
    if (error instanceof ArchiveLimitError || error instanceof CorruptArchiveError) {
      throw new ExtractionError(error.message);
    }
    throw error;
  }
  const actual = zipFormat(files);
  if (!actual) throw new ExtractionError('unsupported archive: not a docx, pptx, xlsx, odt or epub file');
  try {
    switch (actual) {
      case 'docx':
        return { format: actual, text: await docx(files) };
      case 'pptx':
        return { format: actual, ...pptx(files) };
      case 'xlsx':
        return { format: actual, ...xlsx(files) };
      case 'odt':
        return { format: actual, text: odt(files) };
      default:
        return { format: actual, text: epub(files) };
    }
  } catch (error) {
    if (error instanceof ExtractionError) throw error;
    throw new ExtractionError(`the ${actual} file cannot be read: ${(error as Error).message}`);
  }
}
