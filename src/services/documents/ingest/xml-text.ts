// Minimal XML text helpers for OOXML/ODF parts whose structure is simple and well known; a full
// DOM parser would cost far more memory on large sheets for no gain in extracted text.

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

export function decodeXml(text: string): string {
  return text.replace(/&(#x[0-9a-fA-F]+|#\d+|amp|lt|gt|quot|apos);/g, (_, e: string) => {
    if (e.startsWith('#x')) return String.fromCodePoint(Number.parseInt(e.slice(2), 16));
    if (e.startsWith('#')) return String.fromCodePoint(Number.parseInt(e.slice(1), 10));
    return ENTITIES[e] ?? '';
  });
}

/** Concatenated text of every `<tag>…</tag>` element (e.g. `a:t`, `w:t`) inside the xml. */
export function textOf(xml: string, tag: string): string {
  const re = new RegExp(`<${tag}(?:\\s[^>]*)?>([\\s\\S]*?)</${tag}>`, 'g');
  let out = '';
  for (const m of xml.matchAll(re)) out += decodeXml(m[1]!);
  return out;
}

/** The inner xml of each `<tag>` element, in document order. */
export function elements(xml: string, tag: string): string[] {
  const re = new RegExp(`<${tag}(?:\\s[^>]*)?(?:/>|>([\\s\\S]*?)</${tag}>)`, 'g');
  return [...xml.matchAll(re)].map((m) => m[1] ?? '');
}

export function attr(xmlTag: string, name: string): string | undefined {
  const m = new RegExp(`\\s${name}="([^"]*)"`).exec(xmlTag);
  return m ? decodeXml(m[1]!) : undefined;
}

export function stripTags(xml: string): string {
  return decodeXml(xml.replace(/<[^>]+>/g, ''));
}
