/**
 * Issue 16, "many hosts at once": the HA and reconcile pass checks hosts side by side, each under
 * its own deadline (host.check.timeout), so one host that hangs never holds back what the others
 * report, and a host that keeps hanging is marked Down like one that refuses.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deployDemo, simDomain, testEngine, type TestEngine } from '../helpers/engine.js';

let t: TestEngine;

beforeAll(async () => {
  t = await testEngine();
});
afterAll(() => t.close());

const vmRow = (id: string) => t.engine.db.prepare('SELECT v.state, h.name AS host FROM vm_instances v LEFT JOIN hosts h ON h.id=v.host_id WHERE v.uuid=?').get(id) as { state: string; host: string | null };
const hostState = (name: string) => t.engine.db.prepare('SELECT state FROM hosts WHERE name=?').pluck().get(name) as string;
const hostNames = () => t.engine.db.prepare(`SELECT name FROM hosts WHERE removed IS NULL ORDER BY id`).pluck().all() as string[];

async function until(check: () => boolean, ms: number): Promise<boolean> {
  for (const end = Date.now() + ms; Date.now() < end; await new Promise((r) => setTimeout(r, 50))) if (check()) return true;
  return check();
}

describe('HA pass across hosts', () => {
  it('a VM that stopped unseen on one host is recorded Stopped while another host, checked first, still hangs', async () => {
    const vm = await deployDemo(t, { name: 'parallel-check' });
    const home = vmRow(vm['id']!).host!;
    // The first host in check order that is not the VM's: a one-by-one pass would wait on it first.
    const slow = hostNames().find((n) => n !== home)!;
    const release = t.engine.simulator.hangList(slow);
    try {
      // The domain powers off with no event (a missed libvirt event): only the pass can see it.
      simDomain(t, vm['id']!).domain.power = 'Stopped';
      const pass = t.engine.background.ha.pass();
      expect(await until(() => vmRow(vm['id']!).state === 'Stopped', 10_000)).toBe(true);
      release();
      await pass;
    } finally {
      release();
    }
    expect(hostState(slow)).toBe('Up');
  });

  /**
   * HOST hangs while PASSES passes run under a one-second host.check.timeout; then it answers
   * again and one more pass runs. Returns HOST's state after the hanging passes, and checks that
   * the other hosts stayed Up and HOST is Up once it answers.
   */
  async function hangThrough(host: string, passes: number): Promise<string> {
    await t.call('updateConfiguration', { name: 'host.check.timeout', value: '1' });
    const release = t.engine.simulator.hangList(host);
    let state: string;
    try {
      for (let i = 0; i < passes; i++) await t.engine.background.ha.pass();
      state = hostState(host);
      expect(hostNames().filter((n) => n !== host).map(hostState)).toEqual(['Up', 'Up']);
    } finally {
      release();
      await t.call('updateConfiguration', { name: 'host.check.timeout', value: '20' });
    }
    await t.engine.background.ha.pass();
    expect(hostState(host)).toBe('Up');
    return state;
  }

  it('a host that hangs past host.check.timeout is Disconnected after that one check, and Up again once it answers', async () => {
    // Not Up while it does not answer, and not yet Down: one missed check.
    expect(await hangThrough(hostNames()[2]!, 1)).toBe('Disconnected');
  }, 30_000);

  it('a host that hangs past host.check.timeout counts as a missed check each pass, and is Down after three', async () => {
    expect(await hangThrough(hostNames()[1]!, 3)).toBe('Down');
  }, 30_000);
});
