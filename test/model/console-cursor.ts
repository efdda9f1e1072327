/**
 * Reads a test server's console output in order: each expectation is looked for after the
 * previous match, so "A then B" cannot be satisfied by a B printed before A.
 */
import type { TestServer } from '../integration/harness.js';

export class ConsoleCursor {
  private at: number;

  constructor(private readonly t: TestServer) {
    this.at = t.output().length;
  }

  /** Everything printed since the last match. */
  rest(): string {
    return this.t.output().slice(this.at);
  }

  /** Waits for a line equal to `line` (or a match of `pattern`) after the cursor, and moves past it. */
  async expect(expected: RegExp | string): Promise<string> {
    const pattern = typeof expected === 'string' ? new RegExp(`^${escapeRegExp(expected)}$`, 'm') : expected;
    await this.t.waitForOutput(pattern, this.at);
    const match = pattern.exec(this.rest())!;
    this.at += match.index + match[0].length;
    return match[0];
  }
}

export function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
