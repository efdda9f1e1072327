/**
 * The process's limit on open file descriptors (RLIMIT_NOFILE, soft), which Node does not
 * expose. Read from /proc on Linux; undefined where that is not available.
 */
import fs from 'node:fs';

export function openFileLimit(): number | undefined {
  try {
    const limits = fs.readFileSync('/proc/self/limits', 'utf8');
    const soft = /^Max open files\s+(\d+|unlimited)/m.exec(limits)?.[1];
    return soft === undefined || soft === 'unlimited' ? undefined : Number(soft);
  } catch {
    return undefined;
  }
}
