// A narrowed mutation run (docs/testing.md): clients.csv's store and what its start-up uses
// (the byte checks of crypto.ts, csv-strict.ts, key-index.ts) against their tests.
// `npx stryker run stryker/users-csv.mjs`.
export default {
  testRunner: 'vitest',
  vitest: { configFile: 'stryker/users-csv.vitest.ts' },
  mutate: ['src/io/user-store-csv.ts', 'src/io/key-index.ts', 'src/io/crypto.ts', 'src/io/csv-strict.ts'],
  coverageAnalysis: 'perTest',
  incremental: false,
  concurrency: 1,
  timeoutMS: 10_000,
  timeoutFactor: 2,
  reporters: ['clear-text', 'progress', 'json'],
  jsonReporter: { fileName: 'reports/users-csv.json' },
  tempDirName: 'reports/.stryker-tmp-users-csv',
  cleanTempDir: 'always',
};
