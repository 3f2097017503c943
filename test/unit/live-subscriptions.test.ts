/**
 * The one live-subscription hub (main/engine/live-hub.ts) and its clients' cleanup: a client's
 * subscriptions end when it closes, the engine emitters keep one listener per channel however many
 * clients listen, an Electron window's subscriptions end when its webContents is destroyed or its
 * page navigates (and one channel on IPC unsubscribe), and a `/kiln/live` socket's end when it closes.
 */
import { EventEmitter } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import type { IpcMain, WebContents } from 'electron';
import { LiveHub } from '../../main/engine/live-hub.js';
import { attachIpcSubscriptions, attachLiveChannel } from '../../main/http/live.js';
import { startHttpServer } from '../../main/http/server.js';
import { IPC } from '../../preload/api.js';
import { testEngine } from '../helpers/engine.js';

function sources() {
  const jobs = new EventEmitter();
  const events = new EventEmitter();
  const vms = new EventEmitter();
  const hosts = new EventEmitter();
  const images = new EventEmitter();
  const infra = new EventEmitter();
  return {
    emitters: { jobs, events, vms, hosts, images, infra },
    hub: new LiveHub({
      jobs: { emitter: jobs, event: 'job' }, events: { emitter: events, event: 'event' }, vms: { emitter: vms, event: 'vm' }, hosts: { emitter: hosts, event: 'hosts' }, images: { emitter: images, event: 'template' },
      zones: { emitter: infra, event: 'zones' }, pods: { emitter: infra, event: 'pods' }, clusters: { emitter: infra, event: 'clusters' },
    }),
  };
}

describe('LiveHub', () => {
  it('delivers to each subscribed client and ends a closed client\'s subscriptions', () => {
    const { emitters, hub } = sources();
    const a: unknown[] = [];
    const b: unknown[] = [];
    const ca = hub.connect((channel, payload) => a.push([channel, payload]));
    const cb = hub.connect((channel, payload) => b.push([channel, payload]));
    ca.subscribe('events');
    ca.subscribe('events'); // twice is once
    cb.subscribe('events');
    cb.subscribe('jobs');
    expect(emitters.events.listenerCount('event')).toBe(1);
    expect(hub.subscriberCount('events')).toBe(2);
    emitters.events.emit('event', { id: 1 });
    emitters.jobs.emit('job', { jobid: 'j' });
    expect(a).toEqual([['events', { id: 1 }]]);
    expect(b).toEqual([['events', { id: 1 }], ['jobs', { jobid: 'j' }]]);

    ca.close();
    emitters.events.emit('event', { id: 2 });
    expect(a).toHaveLength(1);
    expect(hub.subscriberCount('events')).toBe(1);
    cb.unsubscribe('events');
    expect(emitters.events.listenerCount('event')).toBe(0);
    cb.close();
    expect(emitters.jobs.listenerCount('job')).toBe(0);
    expect(hub.subscriberCount()).toBe(0);
    cb.subscribe('vms'); // a closed client subscribes to nothing
    expect(emitters.vms.listenerCount('vm')).toBe(0);
  });

  it('a thousand clients coming and going leave no listener behind (no MaxListeners warning)', () => {
    const { emitters, hub } = sources();
    const warnings: unknown[] = [];
    process.on('warning', (w) => warnings.push(w));
    for (let i = 0; i < 1000; i++) {
      const c = hub.connect(() => undefined);
      c.subscribe('events');
      if (i % 2) c.close();
    }
    expect(emitters.events.listenerCount('event')).toBe(1);
    expect(hub.subscriberCount('events')).toBe(500);
    expect(warnings).toEqual([]);
  });

  it('a client whose send throws is closed, and the others still get the payload', () => {
    const { emitters, hub } = sources();
    const got: unknown[] = [];
    hub.connect(() => {
      throw new Error('socket gone');
    }).subscribe('vms');
    hub.connect((_c, p) => got.push(p)).subscribe('vms');
    emitters.vms.emit('vm', 1);
    emitters.vms.emit('vm', 2);
    expect(got).toEqual([1, 2]);
    expect(hub.subscriberCount('vms')).toBe(1);
  });
});

/** A stand-in for Electron's ipcMain.handle and a window's webContents (an EventEmitter, as the real one is). */
function fakeIpc() {
  const handlers = new Map<string, (event: { sender: WebContents }, ...args: unknown[]) => unknown>();
  const ipcMain = { handle: (channel: string, handler: (event: { sender: WebContents }, ...args: unknown[]) => unknown) => handlers.set(channel, handler) } as unknown as IpcMain;
  const window = (id: number) => {
    const sent: unknown[] = [];
    const contents = Object.assign(new EventEmitter(), { id, sent, destroyed: false, isDestroyed: () => contents.destroyed, send: (_channel: string, message: unknown) => sent.push(message) });
    return contents;
  };
  const call = (channel: string, sender: ReturnType<typeof window>, ...args: unknown[]) => handlers.get(channel)!({ sender: sender as unknown as WebContents }, ...args);
  return { ipcMain, window, call };
}

describe('Electron IPC subscriptions', () => {
  it("end with the window: destroyed, navigated (reload), or the page's unsubscribe", () => {
    const { emitters, hub } = sources();
    const { ipcMain, window, call } = fakeIpc();
    attachIpcSubscriptions(ipcMain, { live: hub });
    const w1 = window(1);
    const w2 = window(2);
    call(IPC.subscribe, w1, 'events');
    call(IPC.subscribe, w1, 'events');
    call(IPC.subscribe, w1, 'jobs');
    call(IPC.subscribe, w2, 'events');
    call(IPC.subscribe, w2, 'no-such-channel');
    expect(hub.subscriberCount('events')).toBe(2);
    emitters.events.emit('event', { id: 'e1' });
    expect(w1.sent).toEqual([{ channel: 'events', payload: { id: 'e1' } }]);

    // The page's last EventLog unmounted: the preload sends unsubscribe for the channel.
    call(IPC.unsubscribe, w1, 'events');
    expect(hub.subscriberCount('events')).toBe(1);
    expect(hub.subscriberCount('jobs')).toBe(1);
    // A reload is a new page: the old page's subscriptions end; the new page subscribes afresh.
    w1.emit('did-navigate');
    expect(hub.subscriberCount('jobs')).toBe(0);
    call(IPC.subscribe, w1, 'jobs');
    expect(hub.subscriberCount('jobs')).toBe(1);
    // The windows close.
    w1.emit('destroyed');
    w2.emit('destroyed');
    expect(hub.subscriberCount()).toBe(0);
    expect(emitters.events.listenerCount('event') + emitters.jobs.listenerCount('job')).toBe(0);
    // Nothing is left listening on the windows either.
    expect(w1.listenerCount('destroyed') + w1.listenerCount('did-navigate') + w2.listenerCount('destroyed')).toBe(0);
  });
});

describe('the /kiln/live socket', () => {
  const cleanups: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  it('subscribes through the hub and leaves no listener when the socket closes', async () => {
    const t = await testEngine();
    cleanups.push(() => t.close());
    const uiDir = mkdtempSync(join(tmpdir(), 'kiln-ui-'));
    cleanups.push(() => rmSync(uiDir, { recursive: true, force: true }));
    writeFileSync(join(uiDir, 'index.html'), '<!doctype html><title>Kiln</title>');
    const running = await startHttpServer(t.engine, { uiDir });
    cleanups.push(() => running.close());
    attachLiveChannel(t.engine, running);
    const origin = new URL(running.url).origin;
    const tokenAnswer = await fetch(running.uiUrl!, { redirect: 'manual' });
    const cookie = tokenAnswer.headers.get('set-cookie')!.split(';')[0]!;

    const open = async () => {
      const ws = new WebSocket(`${origin.replace('http', 'ws')}/kiln/live`, { headers: { Cookie: cookie, Origin: origin } });
      await new Promise<void>((resolve, reject) => ws.once('open', () => resolve()).once('error', reject));
      return ws;
    };
    const until = async (check: () => boolean) => {
      for (let i = 0; i < 200 && !check(); i++) await new Promise((r) => setTimeout(r, 10));
      expect(check()).toBe(true);
    };
    const ws1 = await open();
    const ws2 = await open();
    const got: unknown[] = [];
    ws1.on('message', (data: Buffer) => got.push(JSON.parse(data.toString())));
    for (const ws of [ws1, ws2]) ws.send(JSON.stringify({ type: 'subscribe', channel: 'events' }));
    ws2.send(JSON.stringify({ type: 'subscribe', channel: 'vms' }));
    await until(() => t.engine.live.subscriberCount('events') === 2 && t.engine.live.subscriberCount('vms') === 1);
    // The event feed's listener, and the VM feed's while 'vms' is subscribed (edits are events on the VM, vm-feed.ts).
    expect(t.engine.events.emitter.listenerCount('event')).toBe(2);
    t.engine.events.record({ type: 'TEST.PING', level: 'INFO', description: 'ping' });
    await until(() => got.length === 1);
    // The new event record itself (main/engine/live/event-feed.ts), as listEvents lists it.
    expect(got[0]).toMatchObject({ type: 'message', channel: 'events', payload: { changed: [{ type: 'TEST.PING', level: 'INFO', description: 'ping' }], removed: [] } });

    ws1.send(JSON.stringify({ type: 'unsubscribe', channel: 'events' }));
    await until(() => t.engine.live.subscriberCount('events') === 1);
    ws2.close();
    await until(() => t.engine.live.subscriberCount() === 0);
    expect(t.engine.events.emitter.listenerCount('event') + t.engine.bus.listenerCount('vm')).toBe(0);
    ws1.close();
  });
});
