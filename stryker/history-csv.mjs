// A narrowed mutation run (docs/testing.md): history-store-csv.ts against the tests that exercise
// it. `npx stryker run stryker/history-csv.mjs`, ~20 min at one core.
export default {
  testRunner: 'vitest',
  vitest: { configFile: 'stryker/history-csv.vitest.ts' },
  mutate: ['src/io/history-store-csv.ts'],
  coverageAnalysis: 'perTest',
  incremental: false,
  concurrency: 1,
  timeoutMS: 10_000,
  timeoutFactor: 2,
  reporters: ['clear-text', 'progress', 'json'],
  jsonReporter: { fileName: 'reports/history-csv.json' },
  tempDirName: 'reports/.stryker-tmp-history-csv',
  cleanTempDir: 'always',
};
