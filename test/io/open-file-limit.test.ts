/**
 * openFileLimit (src/io/open-file-limit.ts): the soft RLIMIT_NOFILE, which Node does not expose,
 * checked against what the shell's `ulimit -Sn` reports for a child (limits are inherited).
 */
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { openFileLimit } from '../../src/io/open-file-limit.js';

describe('openFileLimit', () => {
  it('is the soft limit on open files that ulimit -Sn reports', () => {
    const soft = execFileSync('sh', ['-c', 'ulimit -Sn'], { encoding: 'utf8' }).trim();
    expect(soft).toMatch(/^(\d+|unlimited)$/);
    expect(openFileLimit()).toBe(soft === 'unlimited' ? undefined : Number(soft));
  });
});
