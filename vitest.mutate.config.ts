import { defineConfig } from 'vitest/config';

// The tests Stryker runs against each mutant of src/machines and src/io: the pure-machine, io
// unit and property suites. The TCP integration, hostile and model suites are left out: they
// spawn servers and bind sockets, take minutes per run, and a mutant run repeats them hundreds
// of times on a 2-core machine shared with others.
export default defineConfig({
  test: {
    include: ['test/machines/**/*.test.ts', 'test/io/**/*.test.ts', 'test/property/**/*.test.ts'],
    testTimeout: 20_000,
    hookTimeout: 20_000,
    pool: 'forks',
  },
});
