/**
 * CPU accounting from /proc (Linux): a process's own CPU time, and the whole machine's, so that a
 * run can say how busy the machine was with *other* work while it measured (the bench shares the
 * machine with whatever else runs). Elsewhere every figure is NaN and the run says so.
 */
import { readFileSync } from 'node:fs';
import os from 'node:os';

const TICK_S = 0.01; // USER_HZ is 100 on every Linux we run on

/** CPU seconds (user + system) a process has used so far; NaN when unknown. */
export function processCpuSeconds(pid: number | undefined): number {
  if (pid === undefined) return Number.NaN;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command (which may contain spaces) start after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) * TICK_S; // utime, stime (fields 14, 15)
  } catch {
    return Number.NaN;
  }
}

/**
 * Busy CPU seconds of the whole machine (all cores) so far, and the part spent in interrupts
 * (loopback TCP is mostly softirq work, caused by the bench's own traffic); NaN when unknown.
 */
export function machineBusySeconds(): { busy: number; irq: number } {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0];
    const [, ...ticks] = line.trim().split(/\s+/).map(Number);
    const [user, nice, system, , , irq, softirq, steal] = ticks;
    return { busy: (user + nice + system + steal) * TICK_S, irq: (irq + softirq) * TICK_S };
  } catch {
    return { busy: Number.NaN, irq: Number.NaN };
  }
}

/** Resident set size of a process in bytes, from /proc; NaN when unknown. */
export function processRss(pid: number | undefined): number {
  if (pid === undefined) return Number.NaN;
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const match = /VmRSS:\s+(\d+) kB/.exec(status);
    return match ? Number(match[1]) * 1024 : Number.NaN;
  } catch {
    return Number.NaN;
  }
}

/**
 * Write-type system calls a process has made so far (`syscw` of /proc/<pid>/io: write, writev …,
 * to sockets and files alike); NaN where that cannot be read. Read before and after a window, the
 * difference ÷ deliveries says how many deliveries one socket write carried.
 */
export function processWriteCalls(pid: number | undefined): number {
  if (pid === undefined) return Number.NaN;
  try {
    const match = /^syscw:\s+(\d+)$/m.exec(readFileSync(`/proc/${pid}/io`, 'utf8'));
    return match ? Number(match[1]) : Number.NaN;
  } catch {
    return Number.NaN;
  }
}

export interface CpuWindow {
  /** Seconds of wall time the window lasted. */
  seconds: number;
  /** CPU used by each watched process, in cores (1 = one core fully busy). */
  cores: Record<string, number>;
  /** CPU used by everything else on the machine (other people's work), in cores. */
  otherCores: number;
  /** CPU spent in interrupt handling (mostly the loopback network stack), in cores. */
  irqCores: number;
}

/** Starts a window over `pids` (by name); `end()` returns what each used meanwhile. */
export function cpuWindow(pids: Record<string, number | undefined>): { end(): CpuWindow } {
  const start = process.hrtime.bigint();
  const before = Object.fromEntries(Object.entries(pids).map(([name, pid]) => [name, processCpuSeconds(pid)]));
  const busyBefore = machineBusySeconds();
  return {
    end() {
      const seconds = Number(process.hrtime.bigint() - start) / 1e9;
      const cores: Record<string, number> = {};
      let ours = 0;
      for (const [name, pid] of Object.entries(pids)) {
        const used = processCpuSeconds(pid) - before[name];
        cores[name] = used / seconds;
        ours += used;
      }
      const after = machineBusySeconds();
      const busy = after.busy - busyBefore.busy;
      return {
        seconds,
        cores,
        otherCores: Math.max(0, (busy - ours) / seconds),
        irqCores: (after.irq - busyBefore.irq) / seconds,
      };
    },
  };
}

export function machineDescription(): { cpus: number; model: string; memoryGiB: number; os: string; node: string } {
  const cpus = os.cpus();
  return {
    cpus: os.availableParallelism?.() ?? cpus.length,
    model: cpus[0]?.model ?? 'unknown',
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    os: `${os.type()} ${os.release()}`,
    node: process.version,
  };
}
