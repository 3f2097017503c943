/**
 * The preload bridge's live subscriptions (preload/index.ts) with Electron's ipcRenderer and
 * contextBridge stood in for: one IPC subscription per channel per page however many views
 * listen, payloads fanned out to each, and the main process told to unsubscribe when the last
 * listener on a channel goes (so a closed view leaves no subscription in main).
 */
import { EventEmitter } from 'node:events';
import { describe, expect, it, vi } from 'vitest';
import type { KilnBridge } from '../../preload/api.js';

const electron = vi.hoisted(() => {
  const exposed: Record<string, unknown> = {};
  return { exposed, invoked: [] as unknown[][], emitter: undefined as unknown as import('node:events').EventEmitter };
});

vi.mock('electron', async () => {
  const { EventEmitter: Emitter } = await import('node:events');
  const ipcRenderer = Object.assign(new Emitter(), {
    invoke: async (...args: unknown[]) => {
      electron.invoked.push(args);
    },
    send: () => undefined,
  });
  electron.emitter = ipcRenderer;
  return { ipcRenderer, contextBridge: { exposeInMainWorld: (name: string, api: unknown) => (electron.exposed[name] = api) } };
});

describe('preload live subscriptions', () => {
  it('subscribes once per channel, fans out, and unsubscribes main with the last listener', async () => {
    // A path in a variable: preload/ is typechecked by its own project (bundler resolution), not this one.
    const preload = '../../preload/index.js';
    await import(preload);
    const kiln = electron.exposed['kiln'] as KilnBridge;
    const a: unknown[] = [];
    const b: unknown[] = [];
    const offA = kiln.subscribe('events', (p) => a.push(p));
    const offB = kiln.subscribe('events', (p) => b.push(p));
    const offJobs = kiln.subscribe('jobs', () => undefined);
    expect(electron.invoked).toEqual([['kiln:subscribe', 'events'], ['kiln:subscribe', 'jobs']]);
    (electron.emitter as EventEmitter).emit('kiln:message', {}, { channel: 'events', payload: 1 });
    expect([a, b]).toEqual([[1], [1]]);
    offA();
    offA(); // twice is once
    expect(electron.invoked).toHaveLength(2);
    (electron.emitter as EventEmitter).emit('kiln:message', {}, { channel: 'events', payload: 2 });
    expect([a, b]).toEqual([[1], [1, 2]]);
    offB();
    offJobs();
    expect(electron.invoked.slice(2)).toEqual([['kiln:unsubscribe', 'events'], ['kiln:unsubscribe', 'jobs']]);
    // The page's one IPC message listener stays; no per-view listener accumulates.
    expect((electron.emitter as EventEmitter).listenerCount('kiln:message')).toBe(1);
  });
});
