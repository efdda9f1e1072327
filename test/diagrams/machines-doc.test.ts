// @vitest-environment happy-dom
/**
 * docs/machines.md is generated: it must match what the machines say now, and every diagram in
 * it must parse with the real Mermaid parser. Mermaid needs a DOM (DOMPurify), hence happy-dom;
 * the browser test (npm run test:e2e) also renders them in Chromium.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { MACHINES_DOC_PATH, machinesMarkdown, DIAGRAM_DOC_PATH, docWithDiagram } from '../../src/diagrams/machines-markdown.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const mermaidBlocks = (markdown: string) => [...markdown.matchAll(/```mermaid\n([\s\S]*?)```/g)].map((m) => m[1]!);

describe('docs/machines.md', () => {
  it('is up to date with the machines (run `npm run diagrams` when this fails)', async () => {
    const onDisk = await fs.readFile(path.join(repoRoot, MACHINES_DOC_PATH), 'utf8');

    expect(onDisk, `${MACHINES_DOC_PATH} is out of date: run npm run diagrams`).toBe(machinesMarkdown());
  });

  it('is embedded, up to date, in docs/architecture.md (run `npm run diagrams` when this fails)', async () => {
    const readme = await fs.readFile(path.join(repoRoot, DIAGRAM_DOC_PATH), 'utf8');

    expect(readme).toContain('```mermaid\nstateDiagram-v2');
    expect(readme, 'docs/architecture.md’s diagram is out of date: run npm run diagrams').toBe(docWithDiagram(readme));
  });

  it('has a diagram for each of the seven machines, with no raw xstate ids', () => {
    const markdown = machinesMarkdown();

    expect([...markdown.matchAll(/^## (\w+)$/gm)].map((m) => m[1])).toEqual(['connection', 'listener', 'supervisor', 'room', 'clusterLink', 'echo', 'client']);
    expect(mermaidBlocks(markdown)).toHaveLength(7);
    for (const block of mermaidBlocks(markdown)) expect(block).not.toMatch(/xstate\.|#\w+\.|\[guard\]/);
  });

  it('parses every diagram with the real Mermaid parser, which does reject a broken one', async () => {
    const { default: mermaid } = await import('mermaid');
    mermaid.initialize({ startOnLoad: false });

    for (const block of mermaidBlocks(machinesMarkdown())) {
      await expect(mermaid.parse(block)).resolves.toMatchObject({ diagramType: 'stateDiagram' });
    }
    await expect(mermaid.parse('stateDiagram-v2\n  state a {\n  a --> \n')).rejects.toThrow();
  });

  it('parses the README’s actor picture too', async () => {
    const { default: mermaid } = await import('mermaid');
    mermaid.initialize({ startOnLoad: false });
    const blocks = mermaidBlocks(await fs.readFile(path.join(repoRoot, 'README.md'), 'utf8'));

    expect(blocks).toHaveLength(1);
    await expect(mermaid.parse(blocks[0]!)).resolves.toMatchObject({ diagramType: 'flowchart-v2' });
  });
});
