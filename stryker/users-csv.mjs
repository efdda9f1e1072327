// clients.csv's store and what its start-up uses (the byte checks of crypto.ts, csv-strict.ts,
// key-index.ts) against their tests: `npx stryker run stryker/users-csv.mjs`, ~1 h at one core.
import { narrowRun } from './narrow.mjs';

export default narrowRun('users-csv', ['src/io/user-store-csv.ts', 'src/io/key-index.ts', 'src/io/crypto.ts', 'src/io/csv-strict.ts']);
