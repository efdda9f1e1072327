/**
 * `npm run diagrams`: writes docs/machines.md, and the diagram embedded in docs/architecture.md, from the
 * machine definitions in src/machines. `npm run diagrams -- --check` writes nothing and exits 1
 * when either is out of date (the test suite checks the same).
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { PACKAGE_ROOT } from '../io/package-root.js';
import { MACHINES_DOC_PATH, machinesMarkdown, DIAGRAM_DOC_PATH, docWithDiagram } from '../diagrams/machines-markdown.js';

export async function runDiagrams(argv: readonly string[]): Promise<number> {
  const check = argv.includes('--check');
  const readme = await fs.readFile(path.join(PACKAGE_ROOT, DIAGRAM_DOC_PATH), 'utf8');
  const outputs: Array<[string, string]> = [
    [MACHINES_DOC_PATH, machinesMarkdown()],
    [DIAGRAM_DOC_PATH, docWithDiagram(readme)],
  ];
  let stale = 0;
  for (const [relative, wanted] of outputs) {
    const file = path.join(PACKAGE_ROOT, relative);
    const current = await fs.readFile(file, 'utf8').catch(() => undefined);
    if (current === wanted) {
      process.stdout.write(`${relative} is up to date\n`);
      continue;
    }
    if (check) {
      process.stderr.write(`${relative} is out of date: run npm run diagrams\n`);
      stale++;
      continue;
    }
    await fs.mkdir(path.dirname(file), { recursive: true });
    await fs.writeFile(file, wanted);
    process.stdout.write(`wrote ${relative}\n`);
  }
  return stale === 0 ? 0 : 1;
}

process.exitCode = await runDiagrams(process.argv.slice(2));
