// The Redis adapters against their tests, each starting its own redis-server:
// `npx stryker run stryker/redis.mjs`, ~17 min at one core.
import { narrowRun } from './narrow.mjs';

export default narrowRun('redis', ['src/io/*-redis.ts', 'src/io/redis-connection.ts']);
