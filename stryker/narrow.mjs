// What every narrowed mutation run here shares (docs/testing.md): one file set, mutated against
// the tests in `<name>.vitest.ts`, at one core, reported to reports/<name>.json.
export function narrowRun(name, mutate) {
  return {
    testRunner: 'vitest',
    vitest: { configFile: `stryker/${name}.vitest.ts` },
    mutate,
    coverageAnalysis: 'perTest',
    incremental: false,
    concurrency: 1,
    timeoutMS: 10_000,
    timeoutFactor: 2,
    reporters: ['clear-text', 'progress', 'json'],
    jsonReporter: { fileName: `reports/${name}.json` },
    tempDirName: `reports/.stryker-tmp-${name}`,
    cleanTempDir: 'always',
  };
}
