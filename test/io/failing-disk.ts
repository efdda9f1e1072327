/**
 * Test helper: an append handle that behaves like the real one until told to fail, and then
 * fails the way a full disk does — after part of the data reached the file.
 */
import { openAppendHandle, type OpenAppendHandle } from '../../src/io/durable-file.js';

export interface FailingDisk {
  open: OpenAppendHandle;
  /** The next append writes half its bytes, then fails with ENOSPC. */
  failNextAppend(): void;
}

export function failingDisk(): FailingDisk {
  let fail = false;
  return {
    failNextAppend: () => {
      fail = true;
    },
    open: async (file) => {
      const real = await openAppendHandle(file);
      return {
        ...real,
        async append(data) {
          if (!fail) return real.append(data);
          fail = false;
          await real.append(data.subarray(0, Math.ceil(data.length / 2)));
          throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
        },
      };
    },
  };
}
