import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: [
      'test/io/history-store-csv.test.ts',
      'test/io/history-reads.test.ts',
      'test/io/history-migration.test.ts',
      'test/io/history-timestamp.test.ts',
      'test/io/append-recovery.test.ts',
      'test/property/csv-stores.property.test.ts',
    ],
    // The SIGKILL tests of the migration run the store in a child process (unmutated there) and
    // take 14 s; every mutant of the open path would rerun them.
    testNamePattern: /^(?!.*killed with SIGKILL)/,
    testTimeout: 20_000,
    hookTimeout: 20_000,
    pool: 'forks',
  },
});
