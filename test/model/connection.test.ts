/**
 * Model-based tests of the connection machine: paths generated from the machine itself with
 * xstate/graph (see connection-model.ts), replayed against the pure machine and against a real
 * server over TCP (see connection-tcp.ts), each step judged by the same protocol oracle.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startTestServer, type TestServer } from '../integration/harness.js';
import { ACCOUNT_STATES, closesConnection, connectionPaths, expectedLines, judgeStep, machine, MODEL_INPUT, LEFT_TO_OTHER_TESTS } from './connection-model.js';
import { isDrivableOverTcp, replayOverTcp, tcpGroupOf } from './connection-tcp.js';
import { Coverage, expectFullCoverage, type ModelPath, replayPure } from './graph.js';

// The real stores, with one-shot failures the paths can arm (faults.ts).
vi.mock('../../src/io/user-store-csv.js', async (original) => (await import('./faults.js')).faultyUserStoreModule(await original()));
vi.mock('../../src/io/history-store-csv.js', async (original) => (await import('./faults.js')).faultyHistoryStoreModule(await original()));

const paths = connectionPaths();
const tcpPaths = paths.filter(isDrivableOverTcp);
const group = (name: ReturnType<typeof tcpGroupOf>) => tcpPaths.filter((p) => tcpGroupOf(p) === name);
const named = (list: ModelPath[]) => list.map((p) => [p.name, p] as const);

/**
 * Transitions a TCP client cannot take, by name, with the reason. Empty: every transition of the
 * connection machine is driven over TCP (store failures are injected, see faults.ts).
 */
const TCP_EXCLUDED: Record<string, string> = {
  ...LEFT_TO_OTHER_TESTS,
  ...Object.fromEntries(
    [
      'authenticating.checkingLogin --xstate.error.actor.checkLogin[1/2]--> authenticating.awaitingLogin',
      'authenticating.verifyingPassword --xstate.error.actor.verifyPassword[1/2]--> authenticating.awaitingLogin',
      'authenticating.registering.saving --xstate.error.actor.registerUser[1/2]--> authenticating.awaitingLogin',
      'authenticating.joining --xstate.error.actor.joinChat[1/2]--> authenticating.awaitingLogin',
    ].map((name) => [name, 'a cluster node whose Redis does not answer (test/integration/cluster.test.ts): this server runs on the CSV files']),
  ),
};

describe('connection model: generated paths on the pure machine', () => {
  const coverage = new Coverage('connection', machine);

  it('generates a bounded set of paths', () => {
    console.log(
      `connection: ${paths.length} generated paths, ${tcpPaths.length} drivable over TCP ` +
        `(${group('shared').length} on a shared server, ${group('timeout').length} login timeouts, ${group('shutdown').length} shutdowns)`,
    );
    expect(paths.length).toBeGreaterThan(50);
    expect(paths.length).toBeLessThan(1000);
  });

  it.each(named(paths))('%s', (_, path) => {
    const { initial, steps } = replayPure(machine, MODEL_INPUT, path.events);
    coverage.recordSteps(initial.snapshot, steps);
    const online = () => ['(someone)'];
    expect(judgeStep(initial.snapshot, initial.snapshot, expectedLines(initial.actions, online), false)).toEqual([]);
    for (const step of steps) {
      const problems = judgeStep(step.before, step.after, expectedLines(step.actions, online), closesConnection(step.actions));
      expect(problems, `step ${step.index + 1}`).toEqual([]);
    }
  });

  it('reaches every state and takes every transition but those left to the rooms\' tests', () => {
    expectFullCoverage(coverage, LEFT_TO_OTHER_TESTS, ACCOUNT_STATES);
  });
});

describe('connection model: generated paths over TCP', () => {
  const coverage = new Coverage('connection over TCP', machine);
  const record = (path: ModelPath) => {
    const { initial, steps } = replayPure(machine, MODEL_INPUT, path.events);
    coverage.recordSteps(initial.snapshot, steps);
  };

  describe('on one shared server', () => {
    let t: TestServer;
    beforeAll(async () => {
      t = await startTestServer();
    });
    afterAll(() => t?.stop());

    it.each(named(group('shared')))('%s', async (_, path) => {
      await replayOverTcp(t, path);
      record(path);
    });
  });

  it('login timeouts, on a server with a short one (paths in parallel)', async () => {
    // Long enough for any path's steps before the timeout, even on a loaded machine.
    const t = await startTestServer({ loginTimeoutMs: 2000 });
    // Injected faults are global to the server: paths that run side by side must arm none.
    expect(group('timeout').filter((p) => p.events.some((e) => e.type.startsWith('xstate.error.')))).toEqual([]);
    try {
      await Promise.all(group('timeout').map((path) => replayOverTcp(t, path)));
      group('timeout').forEach(record);
    } finally {
      await t.stop();
    }
  });

  it.each(named(group('shutdown')))('%s (on its own server)', async (_, path) => {
    const t = await startTestServer();
    try {
      await replayOverTcp(t, path);
      record(path);
    } finally {
      await t.stop();
    }
  });

  it('reaches every state and takes every transition', () => {
    expectFullCoverage(coverage, TCP_EXCLUDED, ACCOUNT_STATES);
  });
});
