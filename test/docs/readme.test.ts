/**
 * The README stays what a newcomer finishes in ten minutes: at most 1,500 words (counted as
 * `wc -w` counts), and every link in it leads somewhere — a file of the repository, and a heading
 * of that file when the link names one.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const MAX_WORDS = 1500;

/** GitHub's anchor of a heading: lower case, punctuation dropped, spaces to dashes. */
const anchorOf = (heading: string) =>
  heading
    .toLowerCase()
    .replace(/[^\p{L}\p{N} _-]/gu, '')
    .replace(/ /g, '-');

describe('README.md', () => {
  it(`has at most ${MAX_WORDS} words`, async () => {
    const readme = await fs.readFile(path.join(repo, 'README.md'), 'utf8');
    const words = readme.split(/\s+/).filter(Boolean).length;
    expect(words).toBeLessThanOrEqual(MAX_WORDS);
  });

  it('links only to files that exist, and to headings they have', async () => {
    const readme = await fs.readFile(path.join(repo, 'README.md'), 'utf8');
    const links = [...readme.matchAll(/\]\(([^)\s]+)\)/g)].map((m) => m[1]!).filter((link) => !/^[a-z]+:/.test(link));
    expect(links.length).toBeGreaterThan(5);
    const broken: string[] = [];
    for (const link of links) {
      const [file, anchor] = link.split('#');
      const text = await fs.readFile(path.join(repo, file!), 'utf8').catch(() => undefined);
      if (text === undefined) {
        broken.push(`${link}: no such file`);
        continue;
      }
      if (anchor === undefined) continue;
      const anchors = [...text.matchAll(/^#+ (.+)$/gm)].map((m) => anchorOf(m[1]!));
      if (!anchors.includes(anchor)) broken.push(`${link}: no heading #${anchor}`);
    }
    expect(broken).toEqual([]);
  });
});
