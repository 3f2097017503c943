/**
 * The 'vms' live channel carries the changed VM records, not a hint to refetch: state, host and
 * job change with a transition, an edit without one (a new display name) is sent too, a deployed
 * VM arrives whole, an expunged one arrives as removed, and a burst of changes to many VMs goes
 * out in a few batches built with a constant number of statements.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deployDemo, testEngine, type TestEngine } from '../helpers/engine.js';
import { countStatements } from '../helpers/statement-counter.js';
import type { VmsUpdate } from '../../preload/api.js';
import type { LiveClient } from '../../main/engine/live-hub.js';

let t: TestEngine;
const messages: VmsUpdate[] = [];
let feedClient: LiveClient;

beforeAll(async () => {
  t = await testEngine();
  feedClient = t.engine.live.connect((channel, payload) => channel === 'vms' && messages.push(payload as VmsUpdate));
  feedClient.subscribe('vms');
});
afterAll(() => t?.close());

const until = async (ok: () => boolean) => {
  for (let i = 0; i < 200 && !ok(); i++) await new Promise((r) => setTimeout(r, 10));
  expect(ok()).toBe(true);
};
const records = () => messages.flatMap((m) => m.changed) as { id: string; state: string; displayname: string; hostid?: string; jobid?: string }[];

describe("the 'vms' live channel", () => {
  it('sends a deployed VM whole with its host, an edit, and its expunge as removed', async () => {
    const vm = await deployDemo(t, { name: 'feed-1' });
    await until(() => records().some((r) => r.id === vm['id'] && r.state === 'Running'));
    const running = records().filter((r) => r.id === vm['id']).at(-1)!;
    expect(running).toMatchObject({ displayname: 'feed-1', state: 'Running', hostid: vm['hostid'] });

    messages.length = 0;
    expect((await t.call('updateVirtualMachine', { id: vm['id']!, displayname: 'feed-renamed' })).status).toBe(200);
    await until(() => records().some((r) => r.id === vm['id'] && r.displayname === 'feed-renamed'));

    expect((await t.run('stopVirtualMachine', { id: vm['id']! }))['jobstatus']).toBe(1);
    await until(() => records().some((r) => r.id === vm['id'] && r.state === 'Stopped'));
    expect(records().filter((r) => r.id === vm['id']).at(-1)!.hostid).toBeUndefined();
    expect((await t.run('destroyVirtualMachine', { id: vm['id']!, expunge: 'true' }))['jobstatus']).toBe(1);
    await until(() => messages.some((m) => m.removed.includes(vm['id']!)));
  });

  it('sends a stop of 20 VMs as a few batches, each built with a constant number of statements', async () => {
    const vms: Record<string, string>[] = [];
    for (let i = 0; i < 20; i++) vms.push(await deployDemo(t, { name: `bulk-${i}` }));
    await new Promise((r) => setTimeout(r, 150));
    messages.length = 0;
    const { statements: during } = await countStatements(t.engine.db, async () => {
      await Promise.all(vms.map((vm) => t.run('stopVirtualMachine', { id: vm['id']! })));
      await until(() => vms.every((vm) => records().some((r) => r.id === vm['id'] && r.state === 'Stopped')));
    });
    // 40 transitions (Stopping, Stopped) reach the UI in far fewer messages than transitions.
    expect(messages.length).toBeLessThan(20);
    expect(records().length).toBeGreaterThanOrEqual(20);
    expect(during).toBeGreaterThan(0);
    // One batch of 20 records costs what a batch of 1 costs.
    const one = await countStatements(t.engine.db, () => {
      for (const vm of vms.slice(0, 1)) t.engine.vmFeed.mark(vm['id']!);
      t.engine.vmFeed.flush();
    });
    const twenty = await countStatements(t.engine.db, () => {
      for (const vm of vms) t.engine.vmFeed.mark(vm['id']!);
      t.engine.vmFeed.flush();
    });
    expect(twenty.statements).toBe(one.statements);
    expect(messages.at(-1)!.changed.length).toBe(20);
  });

  it('holds no listener on the engine once nobody subscribes, and sends nothing', async () => {
    const listeners = () => t.engine.bus.listenerCount('vm') + t.engine.events.emitter.listenerCount('event');
    expect(listeners()).toBe(2);
    feedClient.close();
    expect(listeners()).toBe(0);
    messages.length = 0;
    await deployDemo(t, { name: 'unheard' });
    await new Promise((r) => setTimeout(r, 150));
    expect(messages).toEqual([]);
  });
});
