/**
 * One-shot fault injection for the model-based TCP replays: the failures a path wants (a store
 * that throws while checking a login, a registration the disk refuses, a history that cannot be
 * read, a log that cannot be cleared…) are armed right before the client line or console command
 * that triggers them, and the next call of that kind fails once.
 *
 * A test file routes the real stores through these wrappers with vi.mock (the server itself is
 * unchanged and still writes real files):
 *
 *   vi.mock('../../src/io/user-store-csv.js', async (original) =>
 *     (await import('./faults.js')).faultyUserStoreModule(await original()));
 */
import type * as HistoryStoreModule from '../../src/io/history-store-csv.js';
import type * as LogFileModule from '../../src/io/log-file.js';
import type { HistoryStore, UserStore } from '../../src/io/stores.js';
import type * as UserStoreModule from '../../src/io/user-store-csv.js';

export type Fault =
  /** users.registeredLogin rejects: the connection's checkLogin fails. */
  | 'registeredLogin'
  /** users.verifyPassword rejects: verifyPassword fails. */
  | 'verifyPassword'
  /** users.register rejects as a failed write would: registerUser fails. */
  | 'register'
  /** users.clear rejects: the console's `clear file` fails. */
  | 'clearClients'
  /** the log file's clear rejects: the console's `clear log` fails. */
  | 'clearLog'
  /** history.close rejects: the shutdown fails. */
  | 'historyClose';

export class InjectedFault extends Error {
  readonly code = 'STATECHAT_TEST_INJECTED';
  constructor(readonly fault: Fault) {
    super(`injected fault: ${fault}`);
  }
}

const armed = new Set<Fault>();

export const faults = {
  arm(fault: Fault): void {
    armed.add(fault);
  },
  /** The faults armed and not yet triggered. */
  pending(): Fault[] {
    return [...armed];
  },
  reset(): void {
    armed.clear();
  },
};

/** Throws (once) if `fault` is armed. */
function trip(fault: Fault): void {
  if (armed.delete(fault)) throw new InjectedFault(fault);
}

export function faultyUserStore(store: UserStore): UserStore {
  return {
    isRegistered: (login) => store.isRegistered(login),
    registeredLogin: async (login) => {
      trip('registeredLogin');
      return store.registeredLogin(login);
    },
    verifyPassword: async (login, password) => {
      trip('verifyPassword');
      return store.verifyPassword(login, password);
    },
    register: async (login, password, address) => {
      trip('register');
      return store.register(login, password, address);
    },
    changePassword: (login, current, next) => store.changePassword(login, current, next),
    deleteUser: (login) => store.deleteUser(login),
    clear: async () => {
      trip('clearClients');
      return store.clear();
    },
    count: () => store.count(),
    close: () => store.close(),
  };
}

export function faultyHistoryStore<S extends HistoryStore & { readonly writes: number }>(store: S): HistoryStore & { readonly writes: number } {
  return {
    get writes() {
      return store.writes;
    },
    append: (message) => store.append(message),
    recent: (room, limit) => store.recent(room, limit),
    flush: () => store.flush(),
    close: async () => {
      // Closing still happens (the file handle); the failure is reported afterwards.
      const fail = armed.delete('historyClose');
      await store.close();
      if (fail) throw new InjectedFault('historyClose');
    },
  };
}

export function faultyUserStoreModule(original: typeof UserStoreModule): typeof UserStoreModule {
  return {
    ...original,
    openCsvUserStore: async (options) => faultyUserStore(await original.openCsvUserStore(options)),
  };
}

export function faultyHistoryStoreModule(original: typeof HistoryStoreModule): typeof HistoryStoreModule {
  return {
    ...original,
    openCsvHistoryStore: async (options) => faultyHistoryStore(await original.openCsvHistoryStore(options)),
  };
}

export function faultyLogFileModule(original: typeof LogFileModule): typeof LogFileModule {
  const open = original.LogFile.open.bind(original.LogFile);
  const LogFile = Object.assign(Object.create(original.LogFile) as typeof original.LogFile, {
    open: async (file: string) => {
      const log = await open(file);
      const clear = log.clear.bind(log);
      log.clear = async () => {
        trip('clearLog');
        return clear();
      };
      return log;
    },
  });
  return { ...original, LogFile };
}
