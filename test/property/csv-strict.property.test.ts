/**
 * forEachRow reads the quote-free start of a file without csv-parse (a plain split, for start-up
 * speed) and hands the rest to csv-parse. Whatever the bytes, it must agree with csv-parse alone
 * under the same strict options: the same records, or a refusal naming the same line.
 *
 * One known difference: csv-parse's line counter also counts a lone CR (one not followed by LF,
 * which is data inside a field); the plain part counts newline-terminated lines, as an editor
 * does. Line numbers are compared only for input without a lone CR.
 */
import { parse } from 'csv-parse/sync';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CorruptFileError } from '../../src/io/errors.js';
import { stringify } from 'csv-stringify/sync';
import { countNewlines, forEachRow, formatRow, RecordError, scanRecords } from '../../src/io/csv-strict.js';

const COLUMNS = 3;

/** The reference: csv-parse on the whole input, as forEachRow did before its fast path. */
function reference(input: Buffer): { rows: [string[], number][] } | { errorLine: number } {
  const rows: [string[], number][] = [];
  let linesBefore = 0;
  try {
    parse(input, {
      encoding: 'utf8',
      bom: false,
      record_delimiter: ['\n', '\r\n'],
      relax_quotes: false,
      relax_column_count: true,
      skip_empty_lines: false,
      skip_records_with_error: false,
      on_record: (fields: string[], context) => {
        const line = 1 + linesBefore;
        linesBefore = context.lines;
        if ((fields.length === 1 && fields[0] === '') || fields.length !== COLUMNS) throw Object.assign(new Error('bad'), { line });
        rows.push([fields, line]);
        return null;
      },
    });
  } catch (err) {
    return { errorLine: (err as { line?: number }).line ?? 1 + linesBefore };
  }
  return { rows };
}

function ours(input: Buffer): { rows: [string[], number][] } | { errorLine: number } {
  const rows: [string[], number][] = [];
  try {
    forEachRow(input, { file: 'x.csv', firstLine: 1, columns: COLUMNS }, (fields, line) => {
      rows.push([fields, line]);
      return undefined;
    });
  } catch (err) {
    if (!(err instanceof CorruptFileError)) throw err;
    return { errorLine: err.line };
  }
  return { rows };
}

/** Lines of mostly plain cells, sometimes with a quote, a stray CR, a wrong field count or an empty line. */
const piece = fc.constantFrom('a', 'b', 'é', '😀', ' ', '\t', '\r', ',', '"', '""', '=', '-', 'x y');
const cell = fc.string({ unit: piece, maxLength: 5 });
const lineText = fc.oneof(
  { weight: 6, arbitrary: fc.array(cell, { minLength: COLUMNS, maxLength: COLUMNS }).map((cells) => cells.join(',')) },
  { weight: 1, arbitrary: fc.array(cell, { minLength: 1, maxLength: 5 }).map((cells) => cells.join(',')) },
  { weight: 1, arbitrary: fc.constant('') },
);
const file = fc
  .tuple(fc.array(lineText, { maxLength: 12 }), fc.boolean())
  .map(([lines, crlf]) => Buffer.from(lines.map((l) => `${l}${crlf ? '\r\n' : '\n'}`).join(''), 'utf8'));

describe('forEachRow', () => {
  it('agrees with csv-parse on any input: the same records on the same lines, or a refusal on the same line', () => {
    fc.assert(
      fc.property(file, (input) => {
        const expected = reference(input);
        const actual = ours(input);
        const loneCr = /\r(?!\n)/.test(input.toString('utf8'));
        if ('errorLine' in expected) {
          expect('errorLine' in actual).toBe(true);
          if (!loneCr) expect(actual).toEqual({ errorLine: expected.errorLine });
        } else {
          expect('rows' in actual).toBe(true);
          const rows = (actual as { rows: [string[], number][] }).rows;
          expect(rows.map(([fields]) => fields)).toEqual(expected.rows.map(([fields]) => fields));
          if (!loneCr) expect(rows).toEqual(expected.rows);
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('keeps a CR inside a plain field and drops only the one before the newline', () => {
    const input = Buffer.from('a\rb,c,d\r\r\ne,f,g\n');
    expect(ours(input)).toEqual({ rows: [[['a\rb', 'c', 'd\r'], 1], [['e', 'f', 'g'], 2]] });
  });
});

/**
 * scanRecords, the start-up check of every history row, decodes nothing: it must accept exactly
 * what csv-parse accepts, refuse on the line where csv-parse refuses, and give the same verdict
 * however the input is cut into the chunks start-up reads.
 */
function scanned(input: Buffer, cut = input.length): { lines: number[] } | { errorLine: number } {
  const lines: number[] = [];
  const lineOf = (offset: number) => 1 + countNewlines(input, offset);
  let base = 0;
  const opts = {
    columns: COLUMNS,
    fields: [],
    onRecord: (start: number) => void lines.push(lineOf(base + start)),
  };
  let result = scanRecords(input.subarray(0, cut), 0, cut === input.length, opts);
  if (cut < input.length && !(result instanceof RecordError)) {
    base = result;
    result = scanRecords(input.subarray(base), 0, true, opts);
  }
  if (result instanceof RecordError) return { errorLine: lineOf(base + result.recordStart) };
  return { lines };
}

describe('scanRecords', () => {
  it('agrees with csv-parse on any input, cut anywhere: the same records on the same lines, or a refusal on the same line', () => {
    fc.assert(
      fc.property(
        file.chain((input) => fc.tuple(fc.constant(input), fc.integer({ min: 0, max: input.length }))),
        ([input, cut]) => {
          const expected = reference(input);
          const loneCr = /\r(?!\n)/.test(input.toString('utf8'));
          // csv-parse counts a CRLF inside a quoted field as two lines; an editor, and we, as
          // one. Line numbers come from the same input with LF line ends (same records).
          const lf = loneCr ? expected : reference(Buffer.from(input.toString('latin1').replaceAll('\r\n', '\n'), 'latin1'));
          expect('errorLine' in lf).toBe('errorLine' in expected);
          for (const actual of [scanned(input), scanned(input, cut)]) {
            if ('errorLine' in expected) {
              expect('errorLine' in actual, 'csv-parse refuses this input').toBe(true);
              if (!loneCr) expect(actual).toEqual({ errorLine: (lf as { errorLine: number }).errorLine });
            } else {
              expect('lines' in actual, 'csv-parse accepts this input').toBe(true);
              const lines = (actual as { lines: number[] }).lines;
              expect(lines.length).toBe(expected.rows.length);
              if (!loneCr) expect(lines).toEqual((lf as { rows: [string[], number][] }).rows.map(([, line]) => line));
            }
          }
        },
      ),
      { numRuns: 3000 },
    );
  });

  it('hands its first-field check the bytes inside the quotes, and refuses with its reason', () => {
    const seen: string[] = [];
    const check = (input: Buffer, start: number, end: number, quoted: boolean) => {
      seen.push(`${quoted ? 'q' : 'p'}:${input.toString('utf8', start, end)}`);
      return seen.length === 3 ? 'third is bad' : undefined;
    };
    const input = Buffer.from('plain,b,c\n"a""q",b,c\r\nthird,b,c\n');
    const result = scanRecords(input, 0, true, { columns: COLUMNS, fields: [check], onRecord: () => {} });
    expect(seen).toEqual(['p:plain', 'q:a""q', 'p:third']);
    expect(result).toEqual(new RecordError(input.indexOf('third'), 'third is bad'));
  });

  it('leaves a record cut by the end of a chunk for the next one, and refuses it at the end of the file', () => {
    const input = Buffer.from('a,b,c\nd,e,"open\n');
    const opts = { columns: COLUMNS, fields: [], onRecord: () => {} };
    expect(scanRecords(input, 0, false, opts)).toBe(6);
    expect(scanRecords(input, 0, true, opts)).toEqual(new RecordError(6, 'a quoted field is never closed'));
  });
});

describe('formatRow', () => {
  const anyText = fc.oneof(cell, fc.string({ unit: 'grapheme' }), fc.string({ unit: 'binary' }));

  it('writes exactly what csv-stringify writes for the same record', () => {
    fc.assert(
      fc.property(fc.array(anyText, { minLength: 1, maxLength: 5 }), (fields) => {
        expect(formatRow(fields)).toBe(stringify([fields]));
      }),
      { numRuns: 2000 },
    );
  });

  it('reads back as the same fields', () => {
    fc.assert(
      fc.property(fc.array(anyText, { minLength: COLUMNS, maxLength: COLUMNS }), (fields) => {
        const rows: string[][] = [];
        forEachRow(Buffer.from(formatRow(fields)), { file: 'f.csv', firstLine: 1, columns: COLUMNS }, (read) => {
          rows.push(read);
          return undefined;
        });
        expect(rows).toEqual([fields]);
      }),
      { numRuns: 1000 },
    );
  });
});
