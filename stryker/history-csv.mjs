// history-store-csv.ts against the tests that exercise it: `npx stryker run stryker/history-csv.mjs`, ~25 min at one core.
import { narrowRun } from './narrow.mjs';

export default narrowRun('history-csv', ['src/io/history-store-csv.ts']);
