#!/usr/bin/env node
// The `statechat` executable: registers tsx (Node 20 cannot run TypeScript by itself), then
// hands over to the TypeScript entry point. `npm start`, `npm run client` and `npm run echo` call this.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../src/cli/main.ts');
process.exitCode = await main(process.argv.slice(2));
