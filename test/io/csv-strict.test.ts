/**
 * csv-strict.ts by example: the reasons and line numbers a refusal carries, the fields handed to
 * callers, and the offsets scanRecords reports. (test/property/csv-strict.property.test.ts checks
 * that the verdicts agree with csv-parse on any input; these pin down what each verdict says.)
 */
import { describe, expect, it } from 'vitest';
import { checkHeader, countNewlines, forEachRow, formatRow, headerLine, RecordError, scanRecords, type ScanOptions } from '../../src/io/csv-strict.js';
import { CorruptFileError } from '../../src/io/errors.js';

const FILE = 'data.csv';

/** Runs forEachRow from physical line `firstLine`; returns the rows with their lines, or the refusal. */
function rows(
  text: string,
  columns = 3,
  firstLine = 5,
  onRow: (fields: string[], line: number) => string | undefined = () => undefined,
): { rows: [string[], number][] } | { line: number; reason: string } {
  const seen: [string[], number][] = [];
  try {
    forEachRow(Buffer.from(text), { file: FILE, firstLine, columns }, (fields, line) => {
      seen.push([fields, line]);
      return onRow(fields, line);
    });
  } catch (err) {
    if (!(err instanceof CorruptFileError)) throw err;
    expect(err.file).toBe(FILE);
    return { line: err.line, reason: err.reason };
  }
  return { rows: seen };
}

const NOT_TERMINATED = 'the last record is not terminated by a newline (an interrupted write?)';
const BAD_CLOSING_QUOTE = 'a closing quote is followed by something other than a comma or the end of the line';

describe('headerLine', () => {
  it('is the columns as csv-stringify writes them, newline included', () => {
    expect(headerLine(['room', 'topic'])).toBe('room,topic\n');
    expect(headerLine(['a,b', 'c'])).toBe('"a,b",c\n');
  });
});

describe('formatRow', () => {
  it('quotes only the fields that need it and doubles their quotes', () => {
    expect(formatRow(['plain', 'with,comma', 'say "hi"', 'two\nlines', 'cr\r', ''])).toBe(
      'plain,"with,comma","say ""hi""","two\nlines","cr\r",\n',
    );
    expect(formatRow(['only'])).toBe('only\n');
  });
});

describe('forEachRow', () => {
  it('reads nothing from empty input', () => {
    expect(rows('')).toEqual({ rows: [] });
  });

  it('hands each plain record over with its physical line, counted from firstLine', () => {
    expect(rows('a,b,c\r\nd,,f\n', 3, 5)).toEqual({
      rows: [
        [['a', 'b', 'c'], 5],
        [['d', '', 'f'], 6],
      ],
    });
  });

  it('keeps a CR that is data, and drops the one of a CRLF', () => {
    expect(rows('a\r,b\rc,\r\r\n', 3, 1)).toEqual({ rows: [[['a\r', 'b\rc', '\r'], 1]] });
  });

  it('refuses an unterminated last record on the line it starts', () => {
    expect(rows('a,b,c\nd,e,f\ng,h', 3, 5)).toEqual({ line: 7, reason: NOT_TERMINATED });
    expect(rows('a,b', 3, 2)).toEqual({ line: 2, reason: NOT_TERMINATED });
  });

  it('refuses an empty line when more than one column is expected', () => {
    expect(rows('a,b,c\n\nd,e,f\n', 3, 5)).toEqual({ line: 6, reason: 'empty line' });
    expect(rows('a,b,c\r\n\r\n', 3, 5)).toEqual({ line: 6, reason: 'empty line' });
  });

  it('reads an empty line as one empty field when one column is expected', () => {
    expect(rows('a\n\nb\n', 1, 1)).toEqual({
      rows: [
        [['a'], 1],
        [[''], 2],
        [['b'], 3],
      ],
    });
  });

  it('refuses a record with the wrong number of fields, naming both counts', () => {
    expect(rows('a,b,c\nd,e\n', 3, 5)).toEqual({ line: 6, reason: 'expected 3 fields, found 2' });
    expect(rows('a,b,c,d\n', 3, 5)).toEqual({ line: 5, reason: 'expected 3 fields, found 4' });
    expect(rows('a,b,c\nd\n', 3, 5)).toEqual({ line: 6, reason: 'expected 3 fields, found 1' });
  });

  it("refuses a record with the caller's reason, on its line, after handing over the ones before", () => {
    const seen: string[] = [];
    const result = rows('a,b,c\nbad,b,c\nz,z,z\n', 3, 10, (fields) => {
      seen.push(fields[0]!);
      return fields[0] === 'bad' ? 'bad is not allowed' : undefined;
    });
    expect(result).toEqual({ line: 11, reason: 'bad is not allowed' });
    expect(seen).toEqual(['a', 'bad']);
  });

  it('reads quoted records after plain ones, each on the physical line where it starts', () => {
    expect(rows('a,b,c\nd,"two\nlines","say ""hi"""\ng,h,i\n"j",k,l\n', 3, 2)).toEqual({
      rows: [
        [['a', 'b', 'c'], 2],
        [['d', 'two\nlines', 'say "hi"'], 3],
        [['g', 'h', 'i'], 5],
        [['j', 'k', 'l'], 6],
      ],
    });
  });

  it('checks the records of the quoted part like the plain ones', () => {
    expect(rows('"a",b,c\n"d",e\n', 3, 5)).toEqual({ line: 6, reason: 'expected 3 fields, found 2' });
    expect(rows('"a",b,c\n\n', 3, 5)).toEqual({ line: 6, reason: 'empty line' });
    expect(rows('"a",b,c\n"bad",b,c\n', 3, 5, (fields) => (fields[0] === 'bad' ? 'no' : undefined))).toEqual({ line: 6, reason: 'no' });
  });

  it('in the quoted part, splits records only on LF and CRLF: a lone CR is data', () => {
    expect(rows('"a",b\rc,d\r\ne,f,g\n', 3, 1)).toEqual({
      rows: [
        [['a', 'b\rc', 'd'], 1],
        [['e', 'f', 'g'], 3], // csv-parse counts the lone CR as a line too (see the property test)
      ],
    });
  });

  it('does not take a byte order mark for one: before a quote it is a quote inside an unquoted field', () => {
    expect(rows('\uFEFF"a",b,c\n', 3, 1)).toEqual({ line: 1, reason: 'a quote inside an unquoted field' });
    expect(rows('\uFEFFa,b,c\n', 3, 1)).toEqual({ rows: [[['\uFEFFa', 'b', 'c'], 1]] });
  });

  it.each([
    ['a quoted field that is never closed', 'a,b,c\nd,"open,f\n', 'a quoted field is never closed'],
    ['text after a closing quote', 'a,b,c\n"d"x,e,f\n', BAD_CLOSING_QUOTE],
    ['a space after a closing quote', 'a,b,c\n"d" ,e,f\n', BAD_CLOSING_QUOTE],
    ['a quote inside an unquoted field', 'a,b,c\nd"d,e,f\n', 'a quote inside an unquoted field'],
  ])('refuses %s, naming the line the record starts on', (_, text, reason) => {
    expect(rows(text, 3, 5)).toEqual({ line: 6, reason });
  });
});

describe('countNewlines', () => {
  it("counts the '\\n' bytes of a view, up to `end`, and no further than its end", () => {
    const bytes = new Uint8Array([10, 10, 97, 10, 98, 10, 10, 10]);
    const view = bytes.subarray(2, 6); // "a\nb\n"
    expect(countNewlines(view)).toBe(2);
    expect(countNewlines(view, 2)).toBe(1);
    expect(countNewlines(view, 1)).toBe(0);
    expect(countNewlines(view, 100)).toBe(2);
    expect(countNewlines(bytes)).toBe(6);
    expect(countNewlines(new Uint8Array(0))).toBe(0);
  });
});

describe('checkHeader', () => {
  const columns = ['room', 'topic'];

  it('accepts the header, with or without the CR of a CRLF', () => {
    expect(() => checkHeader(FILE, 'room,topic', columns)).not.toThrow();
    expect(() => checkHeader(FILE, 'room,topic\r', columns)).not.toThrow();
  });

  it('refuses another header on line 1, quoting both', () => {
    let error: unknown;
    try {
      checkHeader(FILE, 'room,topics\r', columns);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(CorruptFileError);
    expect(error).toMatchObject({ file: FILE, line: 1, reason: 'expected the header "room,topic", found "room,topics"' });
  });

  it('quotes at most 80 characters of what it found', () => {
    const reasonFor = (found: string) => {
      try {
        checkHeader(FILE, found, columns);
      } catch (err) {
        return (err as CorruptFileError).reason;
      }
      return undefined;
    };
    expect(reasonFor('x'.repeat(80))).toBe(`expected the header "room,topic", found "${'x'.repeat(80)}"`);
    expect(reasonFor(`${'x'.repeat(80)}y`)).toBe(`expected the header "room,topic", found "${'x'.repeat(80)}…"`);
    expect(reasonFor('')).toBe('expected the header "room,topic", found ""');
  });
});

describe('scanRecords', () => {
  type Seen = { records: [number, number][]; first: string[]; second: string[] };

  function scan(
    text: string,
    opts: { columns?: number; from?: number; final?: boolean; first?: (field: string) => string | undefined; second?: (field: string) => string | undefined } = {},
  ): { result: number | RecordError; seen: Seen } {
    const input = Buffer.from(text);
    const seen: Seen = { records: [], first: [], second: [] };
    const scanOpts: ScanOptions = {
      columns: opts.columns ?? 2,
      fields: [
        (buf, start, end, quoted) => {
          const field = buf.toString('utf8', start, end);
          seen.first.push(`${quoted ? 'q' : 'p'}:${field}`);
          return opts.first?.(field);
        },
        (buf, start, end, quoted) => {
          const field = buf.toString('utf8', start, end);
          seen.second.push(`${quoted ? 'q' : 'p'}:${field}`);
          return opts.second?.(field);
        },
      ],
      onRecord: (start, end) => void seen.records.push([start, end]),
    };
    return { result: scanRecords(input, opts.from ?? 0, opts.final ?? true, scanOpts), seen };
  }

  it('reports each record with its start and the offset past its line end, and returns the end', () => {
    const { result, seen } = scan('a,b\r\ncc,"d"\n"e""",f\r\n,\n');
    expect(result).toBe(23);
    expect(seen.records).toEqual([
      [0, 5],
      [5, 12],
      [12, 21],
      [21, 23],
    ]);
    expect(seen.first).toEqual(['p:a', 'p:cc', 'q:e""', 'p:']);
    expect(seen.second).toEqual(['p:b', 'q:d', 'p:f', 'p:']);
  });

  it('starts at `from`', () => {
    const { result, seen } = scan('skip me\nx,y\n', { from: 8 });
    expect(result).toBe(12);
    expect(seen.records).toEqual([[8, 12]]);
    expect(seen.first).toEqual(['p:x']);
  });

  it('returns `from` for empty input past it', () => {
    expect(scan('a,b\n', { from: 4 }).result).toBe(4);
  });

  it('keeps a CR that is data in the field, and drops the one of a CRLF', () => {
    const { seen } = scan('a\rb,\r\r\n');
    expect(seen.first).toEqual(['p:a\rb']);
    expect(seen.second).toEqual(['p:\r']);
  });

  it('checks the second field only once the first has passed, and refuses with either reason', () => {
    const firstRefused = scan('ok,1\nbad,2\n', { first: (f) => (f === 'bad' ? 'first is bad' : undefined) });
    expect(firstRefused.result).toEqual(new RecordError(5, 'first is bad'));
    expect(firstRefused.seen.second).toEqual(['p:1']);
    expect(firstRefused.seen.records).toEqual([[0, 5]]);

    const secondRefused = scan('ok,1\nok,"2"\n', { second: (f) => (f === '2' ? 'second is bad' : undefined) });
    expect(secondRefused.result).toEqual(new RecordError(5, 'second is bad'));
    expect(secondRefused.seen.second).toEqual(['p:1', 'q:2']);
  });

  it('hands the second-field check the second field, not a later one', () => {
    const { result, seen } = scan('a,b,c\n"d","e",f\n', { columns: 3 });
    expect(result).toBe(16);
    expect(seen.first).toEqual(['p:a', 'q:d']);
    expect(seen.second).toEqual(['p:b', 'q:e']);
  });

  it('checks only the fields it is given checks for, and none without', () => {
    for (const fields of [[], [() => undefined]]) {
      const records: number[] = [];
      const result = scanRecords(Buffer.from('a,b\n'), 0, true, { columns: 2, fields, onRecord: (start) => void records.push(start) });
      expect(result).toBe(4);
      expect(records).toEqual([0]);
    }
  });

  it('checks every field it is given a check for, in order, each once those before it passed', () => {
    const seen: string[] = [];
    const field = (i: number) => (buf: Buffer, start: number, end: number, quoted: boolean) => {
      const text = buf.toString('utf8', start, end);
      seen.push(`${i}${quoted ? 'q' : 'p'}:${text}`);
      return text === 'bad' ? `field ${i} is bad` : undefined;
    };
    const fields = [field(0), field(1), field(2), field(3)];
    const input = Buffer.from('a,b,"c",d\r\ne,f,bad,h\n');
    expect(scanRecords(input, 0, true, { columns: 4, fields, onRecord: () => {} })).toEqual(new RecordError(11, 'field 2 is bad'));
    expect(seen).toEqual(['0p:a', '1p:b', '2q:c', '3p:d', '0p:e', '1p:f', '2p:bad']);
    // More checks than columns: the extra ones are never called.
    seen.length = 0;
    expect(scanRecords(Buffer.from('x,y\n'), 0, true, { columns: 2, fields, onRecord: () => {} })).toBe(4);
    expect(seen).toEqual(['0p:x', '1p:y']);
  });

  it.each([
    ['an empty line', 'a,b\n\n', 2, 4, 'empty line'],
    ['an empty line with CRLF', 'a,b\r\n\r\n', 2, 5, 'empty line'],
    ['too few fields', 'a,b\nc\n', 2, 4, 'expected 2 fields, found 1'],
    ['too many fields', 'a,b\n"c",d,e\n', 2, 4, 'expected 2 fields, found 3'],
    ['a quote inside an unquoted field', 'a,b\nc,d"\n', 2, 4, 'a quote inside an unquoted field'],
    ['a quote inside an unquoted first field', 'a,b\nc"c,d\n', 2, 4, 'a quote inside an unquoted field'],
    ['text after a closing quote', 'a,b\n"c"x,d\n', 2, 4, BAD_CLOSING_QUOTE],
    ['text after a closing quote, just before the line end', 'a,b\n"c"x\n', 2, 4, BAD_CLOSING_QUOTE],
    ['a lone CR after a closing quote', 'a,b\n"c"\r,d\n', 2, 4, BAD_CLOSING_QUOTE],
    ['a CR after a closing quote at the end of the input', 'a,b\n"c"\r', 2, 4, BAD_CLOSING_QUOTE],
    ['a quoted field never closed', 'a,b\n"c,d\n', 2, 4, 'a quoted field is never closed'],
    ['a quoted field closed only by the last byte', 'a,b\n"c"', 2, 4, 'a quoted field is never closed'],
    ['an unterminated last record', 'a,b\nc,d', 2, 4, NOT_TERMINATED],
  ])('refuses %s at the offset its record starts', (_, text, columns, start, reason) => {
    const { result, seen } = scan(text, { columns });
    expect(result).toEqual(new RecordError(start, reason));
    expect(seen.records).toEqual([[0, start]]);
  });

  it('reads an empty line as one empty field when one column is expected', () => {
    const { result, seen } = scan('\na\n', { columns: 1 });
    expect(result).toBe(3);
    expect(seen.first).toEqual(['p:', 'p:a']);
  });

  it('reads a quoted field holding commas, newlines and doubled quotes as one field', () => {
    const { result, seen } = scan('"x,""y""\nz",w\n');
    expect(result).toBe(14);
    expect(seen.first).toEqual(['q:x,""y""\nz']);
    expect(seen.second).toEqual(['p:w']);
  });

  it('when not final, takes a quoted field closed just before the end of the chunk as complete', () => {
    const { result, seen } = scan('a,b\nc,"d"\n', { final: false });
    expect(result).toBe(10);
    expect(seen.records).toEqual([
      [0, 4],
      [4, 10],
    ]);
  });

  it('leaves a record cut by the end of a chunk for the next one when not final', () => {
    for (const [text, start] of [
      ['a,b\nc,d', 4],
      ['a,b\n"c', 4],
      ['a,b\n"c""', 4],
      ['a,b\n"c"\r', 4],
      ['a,b\nc,"d"', 4],
      ['a,b\n"c"', 4],
      ['"a",b\nc,d', 6],
      ['a,"b"\r\nc,d', 7],
    ] as const) {
      const { result, seen } = scan(text, { final: false });
      expect(result, text).toBe(start);
      expect(seen.records, text).toEqual([[0, start]]);
    }
  });
});

describe('forEachRow and an onRow that throws', () => {
  // A throw is the caller's own error (a bug, a failed edit), not a verdict on the file: it comes
  // out as it is, on the plain lines and on the lines csv-parse reads alike.
  it.each([
    ['a plain line', 'a,b,c\n'],
    ['a line with quotes', '"a",b,c\n'],
  ])('passes it through unchanged for %s', (_, text) => {
    const boom = new Error('boom');
    expect(() =>
      forEachRow(Buffer.from(text), { file: 'f.csv', firstLine: 5, columns: 3 }, () => {
        throw boom;
      }),
    ).toThrow(boom);
  });
});
