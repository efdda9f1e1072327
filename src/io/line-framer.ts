/**
 * Turns a socket's byte stream into lines: split on '\n', drop one trailing '\r', decode UTF-8
 * (invalid bytes become U+FFFD; never throws). A line over `maxLineBytes` is never held whole:
 * its bytes are dropped as they arrive and it is reported once, as `tooLong`, when it ends.
 * Knows nothing about sockets or the protocol, so it is tested by feeding buffers.
 */
export type FramedLine = { kind: 'line'; text: string } | { kind: 'tooLong'; bytes: number };

const LF = 0x0a;
const CR = 0x0d;
const EMPTY = Buffer.alloc(0);

export class LineFramer {
  /** Bytes of the current, unterminated line (copied: callers may reuse their chunk buffers). */
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  /** Over the limit: counting the current line's bytes instead of keeping them. */
  private skipping = false;
  private skippedBytes = 0;
  private lastSkippedByte = -1;

  constructor(readonly maxLineBytes = 4096) {}

  /**
   * Bytes of the current, unterminated line held in memory: at most `maxLineBytes + 1` (a line
   * of exactly the limit may still be waiting for the '\n' of its '\r\n'); a longer line is
   * counted, not kept.
   */
  get bufferedBytes(): number {
    return this.pendingBytes;
  }

  push(chunk: Buffer): FramedLine[] {
    const lines: FramedLine[] = [];
    let start = 0;
    for (let newline = chunk.indexOf(LF); newline !== -1; newline = chunk.indexOf(LF, start)) {
      lines.push(this.finishLine(chunk, start, newline));
      start = newline + 1;
    }
    if (start < chunk.length) this.hold(chunk.subarray(start));
    return lines;
  }

  end(): FramedLine[] {
    return this.skipping || this.pendingBytes > 0 ? [this.finishLine(EMPTY, 0, 0)] : [];
  }

  /** Completes the current line with `chunk[start, end)` and resets for the next one. */
  private finishLine(chunk: Buffer, start: number, end: number): FramedLine {
    if (this.skipping) {
      const lastByte = end > start ? chunk[end - 1] : this.lastSkippedByte;
      const bytes = this.skippedBytes + (end - start) - (lastByte === CR ? 1 : 0);
      this.skipping = false;
      this.skippedBytes = 0;
      this.lastSkippedByte = -1;
      return { kind: 'tooLong', bytes };
    }
    let line: Buffer;
    if (this.pendingBytes === 0) {
      line = chunk.subarray(start, end);
    } else {
      // One concat per line, only when it is complete (never per chunk).
      this.pending.push(chunk.subarray(start, end));
      line = Buffer.concat(this.pending, this.pendingBytes + (end - start));
      this.pending = [];
      this.pendingBytes = 0;
    }
    const length = line.length > 0 && line[line.length - 1] === CR ? line.length - 1 : line.length;
    if (length > this.maxLineBytes) return { kind: 'tooLong', bytes: length };
    return { kind: 'line', text: line.toString('utf8', 0, length) };
  }

  private hold(rest: Buffer): void {
    if (this.skipping) {
      this.skippedBytes += rest.length;
      this.lastSkippedByte = rest[rest.length - 1];
    } else if (this.pendingBytes + rest.length > this.maxLineBytes + 1) {
      // +1 above: a line of exactly maxLineBytes may still be waiting for the '\n' of its '\r\n'.
      this.skipping = true;
      this.skippedBytes = this.pendingBytes + rest.length;
      this.lastSkippedByte = rest[rest.length - 1];
      this.pending = [];
      this.pendingBytes = 0;
    } else {
      this.pending.push(Buffer.from(rest));
      this.pendingBytes += rest.length;
    }
  }
}
