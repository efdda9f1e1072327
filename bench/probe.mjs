// Preloaded into the servers under test (`node --expose-gc --import ./bench/probe.mjs …`), ours and
// the baseline alike: answers the bench's IPC questions about memory, CPU and event-loop lag.
// Plain JavaScript so that it adds nothing to the server's own start-up path (no tsx before the
// server registers it). It never touches the server's code or data.
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { monitorEventLoopDelay } from 'node:perf_hooks';

if (process.send) {
  const loop = monitorEventLoopDelay({ resolution: 10 });
  loop.enable();
  let session;
  process.on('message', (msg) => {
    // BENCH_PROFILE_DIR: a CPU profile of exactly the measured window (see bench/scenarios.ts).
    if (msg && msg.t === 'profile') {
      if (msg.start) {
        session = new Session();
        session.connect();
        session.post('Profiler.enable', () =>
          session.post('Profiler.start', () => process.send({ t: 'profile', id: msg.id })),
        );
      } else {
        session.post('Profiler.stop', (err, result) => {
          if (!err) writeFileSync(msg.file, JSON.stringify(result.profile));
          session.disconnect();
          process.send({ t: 'profile', id: msg.id });
        });
      }
      return;
    }
    if (!msg || msg.t !== 'probe') return;
    if (msg.gc && typeof globalThis.gc === 'function') {
      globalThis.gc();
      globalThis.gc();
    }
    // settleMs: V8 hands the pages a collection freed back to the OS a moment later (its sweeper
    // and uncommit run concurrently), so RSS read at once still counts them.
    if (msg.settleMs) setTimeout(() => answer(msg), msg.settleMs);
    else answer(msg);
  });
  const answer = (msg) => {
    const mem = process.memoryUsage();
    const cpu = process.cpuUsage();
    process.send({
      t: 'probe',
      id: msg.id,
      rss: mem.rss,
      heapUsed: mem.heapUsed,
      heapTotal: mem.heapTotal,
      external: mem.external,
      arrayBuffers: mem.arrayBuffers,
      cpuUserUs: cpu.user,
      cpuSystemUs: cpu.system,
      loopMaxMs: loop.max / 1e6,
      loopP99Ms: loop.percentile(99) / 1e6,
      handles: process.getActiveResourcesInfo().length,
    });
    if (msg.resetLoop) loop.reset();
  };
  // The probe must never keep a server alive.
  process.channel?.unref();
}
