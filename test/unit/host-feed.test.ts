/**
 * Issue 16, "the same applies to hosts": the 'hosts' live channel carries the changed host
 * records, as listHosts answers them, so the hosts page follows a host going Down and coming back,
 * and the memory a started VM takes, without polling.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deployDemo, testEngine, type TestEngine } from '../helpers/engine.js';
import type { HostsUpdate } from '../../preload/api.js';

let t: TestEngine;
const messages: HostsUpdate[] = [];

beforeAll(async () => {
  t = await testEngine();
  t.engine.live.connect((channel, payload) => channel === 'hosts' && messages.push(payload as HostsUpdate)).subscribe('hosts');
});
afterAll(() => t?.close());

type HostRecord = { id: string; name: string; state: string; memoryallocated: number };
const records = () => messages.flatMap((m) => m.changed) as HostRecord[];
const latest = (name: string) => records().filter((r) => r.name === name).at(-1);
const until = async (ok: () => boolean) => {
  for (let i = 0; i < 200 && !ok(); i++) await new Promise((r) => setTimeout(r, 10));
  expect(ok()).toBe(true);
};

describe("the 'hosts' live channel", () => {
  it('sends the host record when a host goes Down and when it is Up again', async () => {
    const name = (t.engine.db.prepare('SELECT name FROM hosts ORDER BY id DESC').pluck().get() as string);
    t.engine.simulator.setHostUp(name, false);
    try {
      for (let i = 0; i < 3; i++) await t.engine.background.ha.pass();
      await until(() => latest(name)?.state === 'Down');
    } finally {
      t.engine.simulator.setHostUp(name, true);
      await t.engine.background.ha.pass();
    }
    await until(() => latest(name)?.state === 'Up');
    const listed = ((await t.call('listHosts', { name })).body['host'] as HostRecord[])[0]!;
    expect(latest(name)).toEqual(listed);
  });

  it("sends the host a VM starts on, with the VM's memory allocated there", async () => {
    messages.length = 0;
    const vm = await deployDemo(t, { name: 'host-feed-vm' });
    const host = ((await t.call('listHosts', { id: vm['hostid']! })).body['host'] as HostRecord[])[0]!;
    await until(() => latest(host.name)?.memoryallocated === host.memoryallocated);
    expect(host.memoryallocated).toBeGreaterThan(0);
  });
});
