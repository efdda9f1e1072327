/**
 * Strict reading of statechat's CSV data files through csv-parse: fixed column count, no stray
 * quotes, no blank lines, every record newline-terminated. Failures become CorruptFileError with
 * the physical line where the offending record starts (csv-parse reports where it gave up, which
 * for an unclosed quote is the end of the file).
 */
import { CsvError, parse, type Options } from 'csv-parse/sync';
import { stringify } from 'csv-stringify/sync';
import { CorruptFileError } from './errors.js';

const STRICT: Options = {
  encoding: 'utf8',
  bom: false,
  // We write '\n'; accept '\r\n' too so a file saved by a Windows editor still reads. A bare '\r'
  // inside a field is always quoted by csv-stringify, so this cannot split a value.
  record_delimiter: ['\n', '\r\n'],
  relax_quotes: false,
  // Column count is checked per row below, with a message that names the expected count.
  relax_column_count: true,
  skip_empty_lines: false,
  skip_records_with_error: false,
};

const NEWLINE = 0x0a;
const QUOTE = 0x22;
const CR = 0x0d;
const COMMA = 0x2c;

/** The header row exactly as csv-stringify writes it, newline included. */
export function headerLine(columns: readonly string[]): string {
  return stringify([columns]);
}

/** A field csv-stringify quotes (with our options, its defaults): one holding a quote, a comma or a line end. */
const NEEDS_QUOTES = /[",\r\n]/;

/**
 * One record, newline included, exactly as `stringify([fields])` writes it (checked byte for byte
 * in test/property/csv-strict.property.test.ts). For history.csv, which appends a record per chat
 * message: csv-stringify's per-call setup cost ~1 µs a message at full fan-out (bench/, scenario 1).
 */
export function formatRow(fields: readonly string[]): string {
  let row = '';
  for (let i = 0; i < fields.length; i++) {
    const field = fields[i]!;
    if (i > 0) row += ',';
    row += NEEDS_QUOTES.test(field) ? `"${field.replaceAll('"', '""')}"` : field;
  }
  return `${row}\n`;
}

/**
 * Parses `input` (which starts at physical line `firstLine` of `file`) and calls `onRow` for each
 * record in order; `onRow` returns a reason to reject the row. Records are not accumulated here,
 * so a large file costs only what the caller keeps. `at` is the record's byte offset in `input`
 * when the record is one line without quotes (the common case), so that a caller can keep the
 * offset and decode the line again later; undefined for a record read through csv-parse.
 */
export function forEachRow(
  input: Buffer,
  opts: { file: string; firstLine: number; columns: number },
  onRow: (fields: string[], line: number, at: number | undefined) => string | undefined,
): void {
  const { file, firstLine, columns } = opts;
  if (input.length > 0 && input[input.length - 1] !== NEWLINE) {
    throw new CorruptFileError(
      file,
      firstLine + countNewlines(input),
      'the last record is not terminated by a newline (an interrupted write?)',
    );
  }
  const check = (fields: string[], line: number, at: number | undefined) => {
    const reason =
      fields.length === 1 && fields[0] === '' && columns > 1
        ? 'empty line'
        : fields.length !== columns
          ? `expected ${columns} fields, found ${fields.length}`
          : onRow(fields, line, at);
    if (reason !== undefined) throw new CorruptFileError(file, line, reason);
  };

  // Up to the first line that holds a quote, every record is one line and its fields are what
  // lies between the commas: quotes are the only CSV syntax beyond commas and line ends, so that
  // is exactly what csv-parse makes of it (test/property/csv-strict.property.test.ts), at less
  // than half the cost (clients.csv with 100,000 users: 1.0 s → 0.4 s of start-up; bench/,
  // scenario 5). From that line on, csv-parse reads. (A lone CR is data to both; only csv-parse
  // also counts it as a line in the line numbers of its errors.)
  const firstQuote = input.indexOf(QUOTE);
  const plainEnd = firstQuote === -1 ? input.length : input.lastIndexOf(NEWLINE, firstQuote) + 1;
  let plainLines = 0;
  for (let start = 0; start < plainEnd; plainLines++) {
    const end = input.indexOf(NEWLINE, start); // found: the plain part ends just after a newline
    const stop = end > start && input[end - 1] === CR ? end - 1 : end; // '\r\n' ends a record too
    // Each field decoded on its own (as csv-parse does): a kept field holds no slice of a bigger
    // string (a split of the file, or of the line, kept every user's whole line alive).
    const fields: string[] = [];
    for (let from = start; ; ) {
      const comma = input.indexOf(COMMA, from);
      if (comma === -1 || comma >= stop) {
        fields.push(input.toString('utf8', from, stop));
        break;
      }
      fields.push(input.toString('utf8', from, comma));
      from = comma + 1;
    }
    check(fields, firstLine + plainLines, start);
    start = end + 1;
  }
  if (plainEnd === input.length) return;

  const quotedFrom = firstLine + plainLines;
  let linesBefore = 0; // physical lines consumed by the records already seen, relative to the rest
  try {
    parse(input.subarray(plainEnd), {
      ...STRICT,
      on_record: (fields: string[], context) => {
        const line = quotedFrom + linesBefore;
        linesBefore = context.lines;
        check(fields, line, undefined);
        return null; // drop the record: the caller already took what it needs
      },
    });
  } catch (err) {
    // Only csv-parse's own verdicts are about the file; anything else `onRow` threw is its caller's.
    if (!(err instanceof CsvError)) throw err;
    throw new CorruptFileError(file, quotedFrom + linesBefore, describeCsvError(err));
  }
}

function describeCsvError(err: CsvError): string {
  const code = err.code;
  switch (code) {
    case 'CSV_QUOTE_NOT_CLOSED':
      return 'a quoted field is never closed';
    case 'CSV_INVALID_CLOSING_QUOTE':
    case 'CSV_NON_TRIMABLE_CHAR_AFTER_CLOSING_QUOTE':
      return 'a closing quote is followed by something other than a comma or the end of the line';
    case 'INVALID_OPENING_QUOTE':
      return 'a quote inside an unquoted field';
    default:
      return `not valid CSV (${err.message})`;
  }
}

/** Number of '\n' bytes in `buffer[0, end)`. */
export function countNewlines(buffer: Uint8Array, end = buffer.length): number {
  const bytes = Buffer.from(buffer.buffer, buffer.byteOffset, Math.min(end, buffer.length));
  let count = 0;
  for (let at = bytes.indexOf(NEWLINE); at !== -1; at = bytes.indexOf(NEWLINE, at + 1)) count++;
  return count;
}

/** Checks that `firstLine` (without its terminator) is the expected header; throws for line 1. */
export function checkHeader(file: string, firstLine: string, columns: readonly string[]): void {
  const expected = headerLine(columns).slice(0, -1);
  const actual = firstLine.endsWith('\r') ? firstLine.slice(0, -1) : firstLine;
  if (actual !== expected) {
    throw new CorruptFileError(file, 1, `expected the header "${expected}", found "${truncate(actual, 80)}"`);
  }
}

/** `text` cut to `max` characters, with an ellipsis when it was longer (for error messages). */
export function truncate(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max)}…` : text;
}

/** What `scanRecords` found wrong, at the byte offset where the offending record starts. */
export class RecordError {
  constructor(
    readonly recordStart: number,
    readonly reason: string,
  ) {}
}

/**
 * Checks one field, given as bytes [start, end) of the buffer (the quotes of a quoted field
 * excluded, its doubled quotes not yet undone when `quoted`); returns a reason to reject the record.
 */
export type FieldCheck = (input: Buffer, start: number, end: number, quoted: boolean) => string | undefined;

export interface ScanOptions {
  columns: number;
  /**
   * The checks of a record's first fields, in order (`fields[i]` checks field i; fewer than
   * `columns` leaves the rest unchecked). Called only for records with the right column count,
   * each once the fields before it have passed.
   */
  fields: readonly FieldCheck[];
  /** Told the offsets of every record that passed, in order: its start, and just past its line end. */
  onRecord: (recordStart: number, recordEnd: number) => void;
}

/**
 * Validates the strict CSV records of `input` from `from`, without decoding a field: the same
 * verdict as `forEachRow` (csv-parse's under the STRICT options: test/property/), at a few
 * percent of its cost, so that start-up can check every row of a history of millions (bench/,
 * scenario 5). Returns the offset just past the last complete record; a record still open at the
 * end of `input` is left for the caller to hand in again with more bytes (`final` false), or is
 * an unclosed quote (`final` true: the caller has checked the input ends with a newline).
 * Returns a RecordError for the first bad record.
 */
export function scanRecords(input: Buffer, from: number, final: boolean, opts: ScanOptions): number | RecordError {
  const { columns, fields: checks, onRecord } = opts;
  const checked = Math.min(checks.length, columns);
  // Where each checked field is ([start, end) pairs) and whether it was quoted, for the checks
  // that run once the record's column count is known.
  const bounds = new Int32Array(2 * Math.max(1, checked));
  const quotedFields = new Uint8Array(Math.max(1, checked));
  const end = input.length;
  // The next comma, quote and newline at or after the scan position (`end` when there is none),
  // each searched for once: a record scans its own bytes, not ahead to the next quote each time.
  let nextComma = -1;
  let nextQuote = -1;
  let nextNewline = -1;
  const next = (byte: number, at: number) => {
    const found = input.indexOf(byte, at);
    return found === -1 ? end : found;
  };
  let pos = from;
  while (pos < end) {
    const recordStart = pos;
    let fields = 0;
    let firstLength = 0;
    for (;;) {
      let fieldStart = pos;
      let fieldEnd: number;
      /** Where the field's terminator starts: ',' or '\n', or the '\r' of '\r\n'. */
      let terminator: number;
      const quoted = input[pos] === QUOTE;
      if (quoted) {
        fieldStart = pos + 1;
        let close = next(QUOTE, fieldStart);
        while (close + 1 < end && input[close + 1] === QUOTE) close = next(QUOTE, close + 2); // '""' is a quote
        if (close + 1 >= end) {
          if (!final) return recordStart;
          return new RecordError(recordStart, 'a quoted field is never closed');
        }
        fieldEnd = close;
        terminator = close + 1;
        const after = input[terminator];
        const crlf = after === CR && terminator + 1 < end && input[terminator + 1] === NEWLINE;
        if (after === CR && terminator + 1 >= end && !final) return recordStart;
        if (!crlf && after !== COMMA && after !== NEWLINE) {
          return new RecordError(recordStart, 'a closing quote is followed by something other than a comma or the end of the line');
        }
      } else {
        if (nextComma < pos) nextComma = next(COMMA, pos);
        if (nextNewline < pos) nextNewline = next(NEWLINE, pos);
        if (nextQuote < pos) nextQuote = next(QUOTE, pos);
        if (nextNewline === end) {
          if (!final) return recordStart;
          return new RecordError(recordStart, 'the last record is not terminated by a newline (an interrupted write?)');
        }
        fieldEnd = nextComma < nextNewline ? nextComma : nextNewline;
        if (nextQuote < fieldEnd) return new RecordError(recordStart, 'a quote inside an unquoted field');
        // A CR just before the newline belongs to the record's '\r\n'; any other CR is data.
        if (fieldEnd === nextNewline && fieldEnd > pos && input[fieldEnd - 1] === CR) fieldEnd--;
        terminator = fieldEnd;
      }
      if (fields === 0) firstLength = fieldEnd - fieldStart;
      if (fields < checked) {
        bounds[2 * fields] = fieldStart;
        bounds[2 * fields + 1] = fieldEnd;
        quotedFields[fields] = quoted ? 1 : 0;
      }
      fields++;
      const byte = input[terminator];
      if (byte === COMMA) {
        pos = terminator + 1;
        continue;
      }
      pos = byte === CR ? terminator + 2 : terminator + 1;
      break;
    }
    let reason =
      fields === 1 && firstLength === 0 && columns > 1
        ? 'empty line'
        : fields !== columns
          ? `expected ${columns} fields, found ${fields}`
          : undefined;
    for (let i = 0; reason === undefined && i < checked; i++) reason = checks[i]!(input, bounds[2 * i]!, bounds[2 * i + 1]!, quotedFields[i] === 1);
    if (reason !== undefined) return new RecordError(recordStart, reason);
    onRecord(recordStart, pos);
  }
  return pos;
}
