import { defineConfig } from 'vitest/config';

// `npm run test:e2e`: the browser tests (test/e2e/*.e2e.ts), apart from `npm test` — they need
// Chromium (/usr/bin/chromium; .ci/run installs it) and start real server processes.
export default defineConfig({
  test: {
    include: ['test/e2e/**/*.e2e.ts'],
    testTimeout: 60_000,
    hookTimeout: 30_000,
    pool: 'forks',
  },
});
