/**
 * Strict reading of statechat's CSV data files through csv-parse: fixed column count, no stray
 * quotes, no blank lines, every record newline-terminated. Failures become CorruptFileError with
 * the physical line where the offending record starts (csv-parse reports where it gave up, which
 * for an unclosed quote is the end of the file).
 */
import { parse, type CsvError, type Options } from 'csv-parse/sync';
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
 * so a large file costs only what the caller keeps.
 */
export function forEachRow(
  input: Buffer,
  opts: { file: string; firstLine: number; columns: number },
  onRow: (fields: string[], line: number) => string | undefined,
): void {
  const { file, firstLine, columns } = opts;
  if (input.length > 0 && input[input.length - 1] !== NEWLINE) {
    throw new CorruptFileError(
      file,
      firstLine + countNewlines(input),
      'the last record is not terminated by a newline (an interrupted write?)',
    );
  }
  const check = (fields: string[], line: number) => {
    const reason =
      fields.length === 1 && fields[0] === '' && columns > 1
        ? 'empty line'
        : fields.length !== columns
          ? `expected ${columns} fields, found ${fields.length}`
          : onRow(fields, line);
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
    check(fields, firstLine + plainLines);
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
        check(fields, line);
        return null; // drop the record: the caller already took what it needs
      },
    });
  } catch (err) {
    if (err instanceof CorruptFileError) throw err;
    throw new CorruptFileError(file, quotedFrom + linesBefore, describeCsvError(err));
  }
}

function describeCsvError(err: unknown): string {
  const code = (err as Partial<CsvError>).code;
  switch (code) {
    case 'CSV_QUOTE_NOT_CLOSED':
      return 'a quoted field is never closed';
    case 'CSV_INVALID_CLOSING_QUOTE':
    case 'CSV_NON_TRIMABLE_CHAR_AFTER_CLOSING_QUOTE':
      return 'a closing quote is followed by something other than a comma or the end of the line';
    case 'INVALID_OPENING_QUOTE':
      return 'a quote inside an unquoted field';
    default:
      return `not valid CSV (${err instanceof Error ? err.message : String(err)})`;
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

function truncate(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max)}…` : text;
}
