/**
 * The server's TLS credentials: the PEM certificate (chain) and private key named by --tls-cert /
 * --tls-key, read once at start-up and checked by building a secure context from them, so a
 * missing file, a file that is not PEM or a key that does not belong to the certificate stops the
 * start-up with a clear error instead of failing every handshake later.
 */
import { promises as fs } from 'node:fs';
import tls from 'node:tls';
import { isReadableByOthers } from './crypto.js';
import { describeCause, InsecureKeyFileError, TlsSetupError } from './errors.js';

export interface TlsCredentials {
  cert: Buffer;
  key: Buffer;
}

/**
 * `allowInsecureKey`: use a private key file that group or others can read, instead of refusing
 * it as the master key is refused (crypto.ts, `readKeyFile`).
 */
export async function loadTlsCredentials(
  files: { certFile: string; keyFile: string },
  allowInsecureKey = false,
): Promise<TlsCredentials> {
  const read = async (file: string, what: string, isSecret: boolean) => {
    try {
      const handle = await fs.open(file, 'r');
      try {
        const { mode } = await handle.stat();
        if (isSecret && isReadableByOthers(mode) && !allowInsecureKey) throw new InsecureKeyFileError(file, mode);
        return await handle.readFile();
      } finally {
        await handle.close();
      }
    } catch (err) {
      if (err instanceof InsecureKeyFileError) throw err;
      throw new TlsSetupError(`${what} ${file} cannot be read (${describeCause(err)}).`, err);
    }
  };
  const cert = await read(files.certFile, 'the TLS certificate', false);
  const key = await read(files.keyFile, 'the TLS key', true);
  try {
    tls.createSecureContext({ cert, key });
  } catch (err) {
    throw new TlsSetupError(
      `cannot use ${files.certFile} with ${files.keyFile} (${describeCause(err)}): both must be PEM, and the key must be the certificate's.`,
      err,
    );
  }
  return { cert, key };
}
