/** Standalone entry for the client (used by the integration tests): `tsx src/cli/client-main.ts --port 9090`. */
import { runClient } from './client.js';

process.exitCode = await runClient(process.argv.slice(2));
