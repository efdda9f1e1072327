#!/usr/bin/env node
// The `statechat` executable: runs src/cli/main.ts from its bundle (bin/bundle.js), or through tsx
// (Node 20 cannot run TypeScript by itself) where no bundle can be built.
// `npm start`, `npm run client` and `npm run echo` call this.
import { pathToFileURL } from 'node:url';
import { freshBundle } from './bundle.js';

const bundle = await freshBundle();
let main;
if (bundle) {
  ({ main } = await import(pathToFileURL(bundle).href));
} else {
  const { register } = await import('tsx/esm/api');
  register();
  ({ main } = await import('../src/cli/main.ts'));
}
process.exitCode = await main(process.argv.slice(2));
