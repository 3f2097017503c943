/**
 * The 'events' live channel carries the new event records, as listEvents answers them, not a
 * hint to reload the log: an event recorded on a VM goes out with its type, level, description
 * and resource; a burst of events goes out in a few batches, newest first, each built with the
 * same number of statements however many events it holds; nobody subscribed means no listener.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deployDemo, testEngine, type TestEngine } from '../helpers/engine.js';
import { countStatements } from '../helpers/statement-counter.js';
import type { EventsUpdate } from '../../preload/api.js';
import type { LiveClient } from '../../main/engine/live-hub.js';

let t: TestEngine;
const messages: EventsUpdate[] = [];
let client: LiveClient;

beforeAll(async () => {
  t = await testEngine();
  client = t.engine.live.connect((channel, payload) => channel === 'events' && messages.push(payload as EventsUpdate));
  client.subscribe('events');
});
afterAll(() => t?.close());

const until = async (ok: () => boolean) => {
  for (let i = 0; i < 200 && !ok(); i++) await new Promise((r) => setTimeout(r, 10));
  expect(ok()).toBe(true);
};
type Pushed = { id: string; type: string; level: string; description: string; resourceid?: string; resourcetype?: string; username: string; created: string };
const records = () => messages.flatMap((m) => m.changed) as Pushed[];

describe("the 'events' live channel", () => {
  it('sends an event recorded on a VM as the record listEvents lists', async () => {
    const vm = await deployDemo(t, { name: 'ev-feed' });
    messages.length = 0;
    expect((await t.call('updateVirtualMachine', { id: vm['id']!, group: 'g1' })).status).toBe(200);
    await until(() => records().some((r) => r.type === 'VM.UPDATE' && r.resourceid === vm['id']));
    const pushed = records().find((r) => r.type === 'VM.UPDATE')!;
    const listed = ((await t.call('listEvents', { resourceid: vm['id']!, type: 'VM.UPDATE' })).body['event'] as Pushed[])[0];
    expect(pushed).toEqual(listed);
    expect(pushed).toMatchObject({ level: 'INFO', resourcetype: 'VirtualMachine', username: 'admin' });
    expect(pushed.description).toMatch(/^VM ev-feed \(.*\) updated: group$/);
    expect(messages.every((m) => m.removed.length === 0)).toBe(true);
  });

  it('sends a burst of 50 events in a few batches, newest first, each at a constant statement count', async () => {
    await new Promise((r) => setTimeout(r, 150));
    messages.length = 0;
    for (let i = 0; i < 50; i++) t.engine.events.record({ type: 'TEST.BURST', description: `burst ${i}` });
    await until(() => records().filter((r) => r.type === 'TEST.BURST').length === 50);
    expect(messages.length).toBeLessThan(5);
    const burst = records().filter((r) => r.type === 'TEST.BURST').map((r) => r.description);
    if (messages.length === 1) expect(burst).toEqual(Array.from({ length: 50 }, (_, i) => `burst ${49 - i}`));

    const ids = records().map((r) => r.id);
    const one = await countStatements(t.engine.db, () => {
      t.engine.eventFeed.mark(ids[0]!);
      t.engine.eventFeed.flush();
    });
    const fifty = await countStatements(t.engine.db, () => {
      for (const id of ids.slice(0, 50)) t.engine.eventFeed.mark(id);
      t.engine.eventFeed.flush();
    });
    expect(fifty.statements).toBe(one.statements);
    expect(messages.at(-1)!.changed).toHaveLength(50);
  });

  it('holds no listener on the event log once nobody subscribes, and sends nothing', async () => {
    const before = t.engine.events.emitter.listenerCount('event');
    client.close();
    expect(t.engine.events.emitter.listenerCount('event')).toBe(before - 1);
    messages.length = 0;
    t.engine.events.record({ type: 'TEST.UNHEARD', description: 'nobody listens' });
    await new Promise((r) => setTimeout(r, 150));
    expect(messages).toEqual([]);
  });
});
