// The rest of src/io (everything but what history-csv.mjs and users-csv.mjs mutate, the Redis
// adapters included) against the io and property suites: `npx stryker run stryker/io-rest.mjs`.
// With those two runs it gives src/io's score as one number (docs/testing.md).
import { narrowRun } from './narrow.mjs';

export default narrowRun('io-rest', [
  'src/io/**/*.ts',
  '!src/io/history-store-csv.ts',
  '!src/io/user-store-csv.ts',
  '!src/io/key-index.ts',
  '!src/io/crypto.ts',
  '!src/io/csv-strict.ts',
]);
