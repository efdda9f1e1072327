/**
 * Test helper: an append handle that writes through to the real file but records each call, and
 * can hold a `datasync` until released. Whether a store syncs cannot be seen in the file itself
 * (the page cache answers reads either way), so this is how a test sees it — and sees that the
 * store waits for the sync before it answers.
 */
import { openAppendHandle, type OpenAppendHandle } from '../../src/io/durable-file.js';

export type DiskCall = 'append' | 'truncate' | 'datasync' | 'close';

export interface SyncGatedDisk {
  open: OpenAppendHandle;
  /** Every call made on the handle, in order. */
  readonly calls: DiskCall[];
  /** From now on, a `datasync` does not complete until `release()`. */
  hold(): void;
  /** Resolves at the first `datasync` after `hold()`. */
  readonly syncRequested: Promise<void>;
  /** Lets held syncs complete, and later ones too. */
  release(): void;
}

export function syncGatedDisk(): SyncGatedDisk {
  const calls: DiskCall[] = [];
  let held: Promise<void> | undefined;
  let release = () => {};
  let requested = () => {};
  const syncRequested = new Promise<void>((resolve) => (requested = resolve));
  return {
    calls,
    syncRequested,
    hold() {
      held = new Promise<void>((resolve) => (release = resolve));
    },
    release() {
      held = undefined;
      release();
    },
    open: async (file) => {
      const real = await openAppendHandle(file);
      return {
        async append(data) {
          calls.push('append');
          return real.append(data);
        },
        async truncate(length) {
          calls.push('truncate');
          return real.truncate(length);
        },
        async datasync() {
          calls.push('datasync');
          if (held) {
            requested();
            await held;
          }
          return real.datasync();
        },
        async close() {
          calls.push('close');
          return real.close();
        },
      };
    },
  };
}

/** Fails with `message` if `answered` settles before `synced`: the store answered unsynced. */
export function syncedBeforeAnswer(synced: Promise<void>, answered: Promise<unknown>, message: string): Promise<void> {
  return Promise.race([
    synced,
    answered.then(
      () => Promise.reject(new Error(message)),
      (err: unknown) => Promise.reject(new Error(`${message} (it failed: ${String(err)})`)),
    ),
  ]);
}
