// Controls and bidi overrides in a name can hide its real extension ("invoice\u202Egpj.exe" shows
// as "invoiceexe.jpg") or corrupt a log line or a terminal wherever it is shown. \p{Cc}: C0, DEL, C1.
const INVISIBLE = /[\p{Cc}\u061C\u200E\u200F\u2028\u2029\u202A-\u202E\u2066-\u2069\uFEFF]/gu;

/** The name a document is stored and shown under: no control or bidi characters, NFC, at most 1000 characters. */
export function displayFilename(filename: string): string {
  const clean = filename.replace(INVISIBLE, '').normalize('NFC').trim();
  return Array.from(clean).slice(0, 1000).join('') || 'upload';
}
