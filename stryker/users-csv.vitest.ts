import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: [
      'test/io/user-store-csv*.test.ts',
      'test/io/user-store-migration.test.ts',
      'test/io/key-index.test.ts',
      'test/io/crypto.test.ts',
      'test/io/csv-strict.test.ts',
      'test/property/crypto*.property.test.ts',
      'test/property/clients-scan.property.test.ts',
      'test/property/csv-strict.property.test.ts',
      'test/property/csv-stores.property.test.ts',
    ],
    testTimeout: 20_000,
    hookTimeout: 20_000,
    pool: 'forks',
  },
});
