// A narrowed mutation run (docs/testing.md): the Redis adapters against their tests, each
// starting its own redis-server. `npx stryker run stryker/redis.mjs`, ~17 min at one core.
export default {
  testRunner: 'vitest',
  vitest: { configFile: 'stryker/redis.vitest.ts' },
  mutate: ['src/io/*-redis.ts', 'src/io/redis-connection.ts'],
  coverageAnalysis: 'perTest',
  incremental: false,
  concurrency: 1,
  timeoutMS: 10_000,
  timeoutFactor: 2,
  reporters: ['clear-text', 'progress', 'json'],
  jsonReporter: { fileName: 'reports/redis.json' },
  tempDirName: 'reports/.stryker-tmp-redis',
  cleanTempDir: 'always',
};
