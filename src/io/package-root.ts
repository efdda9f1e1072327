/**
 * The statechat package's root directory, wherever the running code sits: a module of src/ (under
 * tsx or vitest), or the bundle bin/statechat.js builds into dist/. Files shipped beside the code
 * (the inspector's page) are found from here, not from the importing module's own URL, which the
 * bundle changes.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The nearest directory at or above `from` holding statechat's package.json. */
export function packageRootOf(from: string): string {
  for (let dir = from; ; dir = path.dirname(dir)) {
    const manifest = path.join(dir, 'package.json');
    if (fs.existsSync(manifest) && (JSON.parse(fs.readFileSync(manifest, 'utf8')) as { name?: unknown }).name === 'statechat') return dir;
    if (path.dirname(dir) === dir) throw new Error(`no statechat package.json at or above ${from}`);
  }
}

export const PACKAGE_ROOT = packageRootOf(path.dirname(fileURLToPath(import.meta.url)));
