import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Integration tests bind real sockets on 127.0.0.1 port 0 and spawn processes; each test
    // file gets its own temp data dir, so files may run in parallel.
    testTimeout: 20_000,
    hookTimeout: 20_000,
    pool: 'forks',
  },
});
