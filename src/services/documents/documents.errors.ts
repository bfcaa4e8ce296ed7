import { DomainError } from '../errors.ts';
import type { DocumentRecord } from '../ports/document.ts';

// Expected upload outcomes other than a new document: typed members of the upload result union.

export class UnsupportedFileTypeError extends DomainError {
  readonly code = 'UNSUPPORTED_FILE_TYPE';
  readonly filename: string;
  constructor(filename: string, detail = 'its bytes are not a supported document format') {
    super(
      `${filename}: unsupported file type (${detail}); supported: txt, md, html, pdf, docx, pptx, xlsx, odt, epub, chat JSON`,
    );
    this.filename = filename;
  }
}

export class FileTooLargeError extends DomainError {
  readonly code = 'FILE_TOO_LARGE';
  readonly filename: string;
  readonly limitBytes: number;
  constructor(filename: string, limitBytes: number) {
    super(`${filename} exceeds the upload limit of ${limitBytes} bytes`);
    this.filename = filename;
    this.limitBytes = limitBytes;
  }
}

export class EmptyDocumentError extends DomainError {
  readonly code = 'EMPTY_DOCUMENT';
  readonly filename: string;
  constructor(filename: string) {
    super(`${filename} is empty`);
    this.filename = filename;
  }
}

export class DuplicateDocumentError extends DomainError {
  readonly code = 'DUPLICATE_DOCUMENT';
  /** The document already holding these exact bytes. */
  readonly document: DocumentRecord;
  constructor(document: DocumentRecord) {
    super(`the same file was already uploaded as ${document.filename} (${document.id})`);
    this.document = document;
  }
}

export type UploadRejection =
  | UnsupportedFileTypeError
  | FileTooLargeError
  | EmptyDocumentError
  | DuplicateDocumentError;
