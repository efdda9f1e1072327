/**
 * Every error statechat raises on purpose, in one place. Each carries a stable `code`
 * (as Node's own errors do) so callers branch on `err.code`, never on message text.
 */
import { SERVICE_UNAVAILABLE } from '../machines/protocol.js';

export class StatechatError extends Error {
  constructor(
    readonly code: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** A CSV data file does not parse: names the file and the 1-based physical line. */
export class CorruptFileError extends StatechatError {
  constructor(
    readonly file: string,
    readonly line: number,
    readonly reason: string,
  ) {
    super(
      'STATECHAT_ERR_CORRUPT_CSV',
      `${file}, line ${line}: ${reason}. The file was left untouched; repair or move it away and start again.`,
    );
  }
}

/**
 * One record of a data file, found damaged when it is used rather than at start-up (clients.csv
 * decrypts a login at its sign-in): the record is named by a prefix of its keyed index, never by
 * its login. The file is left as it is.
 */
export class DamagedRecordError extends StatechatError {
  constructor(
    readonly file: string,
    readonly record: string,
    readonly reason: string,
  ) {
    super('STATECHAT_ERR_DAMAGED_RECORD', `${file}: the record ${record} is damaged: ${reason}. The file was left untouched.`);
  }
}

/** A data file exists but cannot be read or written (permissions, not a file, I/O error). */
export class UnreadableFileError extends StatechatError {
  constructor(readonly file: string, cause: unknown) {
    super('STATECHAT_ERR_UNREADABLE_FILE', `${file}: cannot be read (${describeCause(cause)}).`, { cause });
  }
}

/** Encrypted records exist, but no key was found to read them. */
export class KeyMissingError extends StatechatError {
  constructor(detail: string) {
    super('STATECHAT_ERR_KEY_MISSING', detail);
  }
}

/** A key was found, but it does not decrypt the existing records. */
export class KeyMismatchError extends StatechatError {
  constructor(detail: string) {
    super('STATECHAT_ERR_KEY_MISMATCH', detail);
  }
}

/** STATECHAT_KEY or the key file does not hold a 32-byte key in a known encoding. */
export class InvalidKeyError extends StatechatError {
  constructor(detail: string) {
    super('STATECHAT_ERR_INVALID_KEY', detail);
  }
}

/** A key file (the master key, a TLS private key) that group or others can read: it may have been copied. */
export class InsecureKeyFileError extends StatechatError {
  constructor(readonly file: string, readonly mode: number) {
    const octal = (mode & 0o777).toString(8).padStart(4, '0');
    super(
      'STATECHAT_ERR_INSECURE_KEY',
      `${file} is readable by group or others (mode ${octal}), so the key may already have been copied: ` +
        `run "chmod 600 ${file}" (and consider a new key), or pass --allow-insecure-key to use it anyway.`,
    );
  }
}

/** Another statechat server holds the data dir (its lock file names a live process). */
export class DataDirLockedError extends StatechatError {
  constructor(readonly dir: string, readonly pid: number | undefined, since: string | undefined, detail?: string) {
    const holder = pid === undefined ? 'another process' : `pid ${pid}${pid === process.pid ? ', this process' : ''}${since ? `, since ${since}` : ''}`;
    super(
      'STATECHAT_ERR_DATA_DIR_LOCKED',
      detail
        ? `${detail} (${dir} is held by ${holder}); nothing was changed.`
        : `data dir ${dir} is in use by another statechat server (${holder}): stop it, or pass another --data-dir. Nothing in it was changed.`,
    );
  }
}

/** A write to a data file failed (disk full, read-only, removed…); nothing half-written stays. */
export class StorageError extends StatechatError {
  constructor(readonly file: string, cause: unknown) {
    super('STATECHAT_ERR_STORAGE', `${file}: write failed (${describeCause(cause)}).`, { cause });
  }
}

/**
 * A cluster node could not take a step because Redis did not answer (or the node's link says it
 * is away): users are told "unavailable, retrying", not that the server failed.
 */
export class ServiceUnavailableError extends StatechatError {
  constructor(cause?: unknown) {
    super(SERVICE_UNAVAILABLE, `the cluster's store is unavailable${cause === undefined ? '' : ` (${describeCause(cause)})`}`, { cause });
  }
}

/** The port is taken by another process. */
export class PortInUseError extends StatechatError {
  constructor(readonly host: string, readonly port: number) {
    super('STATECHAT_ERR_PORT_IN_USE', `${host}:${port} is already in use; stop the other server or pass --port.`);
  }
}

/** The TLS certificate or key cannot be read or used (missing file, not PEM, key does not match). */
export class TlsSetupError extends StatechatError {
  constructor(detail: string, cause?: unknown) {
    super('STATECHAT_ERR_TLS', detail, { cause });
  }
}

/** A command-line flag or config value is invalid. */
export class ConfigError extends StatechatError {
  constructor(detail: string) {
    super('STATECHAT_ERR_CONFIG', detail);
  }
}

export function describeCause(cause: unknown): string {
  if (cause && typeof cause === 'object' && 'code' in cause && typeof cause.code === 'string') {
    const message = 'message' in cause && typeof cause.message === 'string' ? cause.message : '';
    return message.includes(cause.code) ? message : `${cause.code}: ${message}`;
  }
  return cause instanceof Error ? cause.message : String(cause);
}

/** Runs a store's command; its failure becomes a StorageError naming `where` (a file, a Redis URL). */
export async function asStorageError<T>(where: string, command: () => Promise<T>): Promise<T> {
  try {
    return await command();
  } catch (err) {
    throw new StorageError(where, err);
  }
}
