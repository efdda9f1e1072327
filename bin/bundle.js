// The bundle bin/statechat.js runs: src/ built by esbuild into one file, dist/statechat.mjs, with
// the packages left as imports. Starting from it skips tsx's loader and a graph of ~80 modules,
// ~0.25 s of every start (docs/performance.md, "S5 start-up: running a bundle"). It is rebuilt
// whenever a source is newer, so an edit is never run stale; where dist/ cannot be written, the
// caller runs tsx instead.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
export const SOURCES = path.join(ROOT, 'src');
export const BUNDLE = path.join(ROOT, 'dist', 'statechat.mjs');

/** The newest modification time of a TypeScript file under `dir` (ms). */
function newestSource(dir) {
  let newest = 0;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const file = path.join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestSource(file));
    else if (entry.name.endsWith('.ts')) newest = Math.max(newest, fs.statSync(file).mtimeMs);
  }
  return newest;
}

/**
 * The path of an up-to-date bundle, building it first if it is missing or older than a source;
 * undefined if it cannot be built (the caller then runs the sources through tsx).
 */
export async function freshBundle() {
  try {
    // Taken before the sources are read: an edit made during the build leaves the bundle older.
    const startedAt = new Date();
    const built = fs.statSync(BUNDLE, { throwIfNoEntry: false });
    if (built && built.mtimeMs >= newestSource(SOURCES)) return BUNDLE;
    const { build } = await import('esbuild');
    const result = await build({
      entryPoints: [path.join(SOURCES, 'cli', 'main.ts')],
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      packages: 'external',
      write: false,
      logLevel: 'silent',
    });
    fs.mkdirSync(path.dirname(BUNDLE), { recursive: true });
    // Written aside and renamed: two starts building at once never run a half-written file.
    const partial = `${BUNDLE}.${process.pid}.partial`;
    fs.writeFileSync(partial, result.outputFiles[0].contents);
    fs.utimesSync(partial, startedAt, startedAt);
    fs.renameSync(partial, BUNDLE);
    return BUNDLE;
  } catch {
    return undefined;
  }
}
