// The error classes' stable codes (callers branch on err.code, never on text) and the one-line
// causes every log line and refusal is built from.
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  asStorageError,
  ConfigError,
  CorruptFileError,
  DamagedRecordError,
  DataDirLockedError,
  describeCause,
  InsecureKeyFileError,
  InvalidKeyError,
  KeyMismatchError,
  KeyMissingError,
  PortInUseError,
  StatechatError,
  StorageError,
  TlsSetupError,
  UnreadableFileError,
} from '../../src/io/errors.js';
import { PACKAGE_ROOT, packageRootOf } from '../../src/io/package-root.js';

describe('error classes', () => {
  it('carry their stable code, their own name and the details a user acts on', () => {
    const cases: [StatechatError, string, RegExp][] = [
      [new CorruptFileError('h.csv', 7, 'bad timestamp'), 'STATECHAT_ERR_CORRUPT_CSV', /^h\.csv, line 7: bad timestamp\. The file was left untouched; repair/],
      [new DamagedRecordError('c.csv', 'ab12', 'bad tag'), 'STATECHAT_ERR_DAMAGED_RECORD', /^c\.csv: the record ab12 is damaged: bad tag\. The file was left untouched\.$/],
      [new UnreadableFileError('d/x', new Error('EACCES')), 'STATECHAT_ERR_UNREADABLE_FILE', /^d\/x: cannot be read \(EACCES\)\.$/],
      [new KeyMissingError('no key'), 'STATECHAT_ERR_KEY_MISSING', /^no key$/],
      [new KeyMismatchError('wrong key'), 'STATECHAT_ERR_KEY_MISMATCH', /^wrong key$/],
      [new InvalidKeyError('short'), 'STATECHAT_ERR_INVALID_KEY', /^short$/],
      [new InsecureKeyFileError('k', 0o100644), 'STATECHAT_ERR_INSECURE_KEY', /^k is readable by group or others \(mode 0644\).*run "chmod 600 k".*--allow-insecure-key/],
      [new StorageError('h.csv', new Error('ENOSPC')), 'STATECHAT_ERR_STORAGE', /^h\.csv: write failed \(ENOSPC\)\.$/],
      [new PortInUseError('127.0.0.1', 4000), 'STATECHAT_ERR_PORT_IN_USE', /^127\.0\.0\.1:4000 is already in use; stop the other server or pass --port\.$/],
      [new TlsSetupError('no cert'), 'STATECHAT_ERR_TLS', /^no cert$/],
      [new ConfigError('bad flag'), 'STATECHAT_ERR_CONFIG', /^bad flag$/],
    ];
    for (const [error, code, message] of cases) {
      expect(error.code, error.constructor.name).toBe(code);
      expect(error.name).toBe(error.constructor.name);
      expect(error.message).toMatch(message);
      expect(error).toBeInstanceOf(StatechatError);
    }
  });

  it('keep the cause they wrap', () => {
    const cause = new Error('EIO');
    expect(new UnreadableFileError('f', cause).cause).toBe(cause);
    expect(new StorageError('f', cause).cause).toBe(cause);
    expect(new TlsSetupError('t', cause).cause).toBe(cause);
  });

  it('name who holds a locked data dir, or the detail a tool gives', () => {
    const live = new DataDirLockedError('/d', 4242, '2026-12-07T00:00:00Z');
    expect(live.code).toBe('STATECHAT_ERR_DATA_DIR_LOCKED');
    expect(live.message).toBe(
      'data dir /d is in use by another statechat server (pid 4242, since 2026-12-07T00:00:00Z): stop it, or pass another --data-dir. Nothing in it was changed.',
    );
    expect(new DataDirLockedError('/d', process.pid, undefined).message).toContain(`(pid ${process.pid}, this process)`);
    expect(new DataDirLockedError('/d', undefined, undefined).message).toContain('(another process)');
    expect(new DataDirLockedError('/d', 7, undefined, 'clear file refused').message).toBe('clear file refused (/d is held by pid 7); nothing was changed.');
  });
});

describe('describeCause', () => {
  it('puts a system error code before its message, once', () => {
    expect(describeCause(Object.assign(new Error('no space left'), { code: 'ENOSPC' }))).toBe('ENOSPC: no space left');
    expect(describeCause(Object.assign(new Error('ENOSPC: no space left, write'), { code: 'ENOSPC' }))).toBe('ENOSPC: no space left, write');
    expect(describeCause({ code: 'ECONNREFUSED' })).toBe('ECONNREFUSED: ');
    expect(describeCause({ code: 'X', message: 42 })).toBe('X: ');
  });

  it('gives an error its message and anything else its string', () => {
    expect(describeCause(new Error('boom'))).toBe('boom');
    expect(describeCause(Object.assign(new Error('coded'), { code: 7 }))).toBe('coded');
    expect(describeCause('plain')).toBe('plain');
    expect(describeCause(undefined)).toBe('undefined');
    expect(describeCause(null)).toBe('null');
    expect(describeCause({ message: 'no code' })).toBe('[object Object]');
  });
});

describe('asStorageError', () => {
  it('passes a result through and names where a failure happened', async () => {
    await expect(asStorageError('redis://h:1', async () => 5)).resolves.toBe(5);
    const failure = await asStorageError('redis://h:1', async () => {
      throw Object.assign(new Error('connection lost'), { code: 'ECONNRESET' });
    }).catch((err: unknown) => err);
    expect(failure).toBeInstanceOf(StorageError);
    expect((failure as StorageError).file).toBe('redis://h:1');
    expect((failure as StorageError).message).toBe('redis://h:1: write failed (ECONNRESET: connection lost).');
  });
});

describe('packageRootOf', () => {
  it('finds the statechat package from any folder inside it', () => {
    expect(PACKAGE_ROOT).toBe(path.resolve(import.meta.dirname, '../..'));
    expect(packageRootOf(path.join(PACKAGE_ROOT, 'src', 'io'))).toBe(PACKAGE_ROOT);
    expect(packageRootOf(PACKAGE_ROOT)).toBe(PACKAGE_ROOT);
  });

  it('passes over another package and says so when there is none', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'statechat-root-'));
    try {
      await fs.writeFile(path.join(dir, 'package.json'), JSON.stringify({ name: 'other' }));
      await fs.mkdir(path.join(dir, 'inner'));
      expect(() => packageRootOf(path.join(dir, 'inner'))).toThrow(`no statechat package.json at or above ${path.join(dir, 'inner')}`);
    } finally {
      await fs.rm(dir, { recursive: true });
    }
  });
});
