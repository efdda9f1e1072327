// Mutation testing (`npm run test:mutate`); not part of `npm test` or CI — a full run takes
// tens of minutes on a 2-core machine.
/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  testRunner: 'vitest',
  vitest: { configFile: 'vitest.mutate.config.ts' },
  // Globs, not lists: new modules in these folders are mutated without editing this file.
  mutate: ['src/machines/**/*.ts', 'src/io/**/*.ts'],
  coverageAnalysis: 'perTest',
  incremental: true,
  incrementalFile: 'reports/stryker-incremental.json',
  // The machine has 2 cores, shared with other work.
  concurrency: 2,
  // A mutant that turns a loop or a retry into an endless one is killed as a timeout instead of
  // stalling the run: each test gets its baseline time × timeoutFactor + timeoutMS.
  timeoutMS: 10_000,
  timeoutFactor: 2,
  reporters: ['clear-text', 'html', 'progress'],
  htmlReporter: { fileName: 'reports/mutation/index.html' },
  tempDirName: 'reports/.stryker-tmp',
  cleanTempDir: 'always',
};
