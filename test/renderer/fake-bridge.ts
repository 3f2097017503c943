/**
 * The one thing the renderer unit tests replace: the transport boundary. `window.kiln` is the
 * preload bridge the renderer's transport picks up when it is present (Electron); here it is a
 * fake whose `invoke` each test scripts. Everything above it runs for real: the transport's
 * envelope unwrapping (errors become thrown Errors with errorcode/errortext), the stores, the
 * action registry, waitForJob.
 *
 * Import this module FIRST in a test file (before any renderer module): the transport reads
 * `window.kiln` once, when it is first imported.
 */
import { vi } from 'vitest';
import type { ApiEnvelope, ApiParams, KilnBridge } from '../../preload/api';

export type Invoke = (command: string, params?: ApiParams) => Promise<ApiEnvelope>;

/** The bridge's invoke: answers with the inside of `<command>response`, an error envelope included (as IPC and HTTP do). */
export const invoke = vi.fn<Invoke>();

const listeners = new Map<string, Set<(message: unknown) => void>>();

const bridge: KilnBridge = {
  invoke: (command, params) => invoke(command, params ?? {}),
  subscribe: (channel, listener) => {
    const set = listeners.get(channel) ?? new Set();
    listeners.set(channel, set.add(listener));
    return () => set.delete(listener);
  },
};

/** Delivers MESSAGE on CHANNEL to the renderer's current subscribers, as the live channel would. */
export function push(channel: string, message: unknown): void {
  for (const listener of [...(listeners.get(channel) ?? [])]) listener(message);
}

/** How many renderer listeners CHANNEL has now. */
export const listenerCount = (channel: string) => listeners.get(channel)?.size ?? 0;

// Node has no window; the renderer's transport only reads `window.kiln`.
Object.assign(globalThis, { window: { kiln: bridge } });

/** Answers each command from a table of handlers; an unscripted command fails loudly. */
export function answer(handlers: Record<string, (params: ApiParams) => ApiEnvelope | Promise<ApiEnvelope>>): void {
  invoke.mockImplementation(async (command, params) => {
    const handler = handlers[command];
    if (!handler) throw new Error(`unexpected call in test: ${command} ${JSON.stringify(params)}`);
    return handler(params ?? {});
  });
}

/** An API error as the bridge carries it (the engine's envelope). */
export function apiError(errorcode: number, errortext: string): ApiEnvelope {
  return { errorcode, cserrorcode: 4350, errortext };
}

/** A promise with its resolve in hand: for calls the test finishes when it chooses. */
export function deferred<T>(): { promise: Promise<T>; resolve(value: T): void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

/** Lets pending promise callbacks (and the stores' follow-up calls) run. */
export async function settle(rounds = 10): Promise<void> {
  for (let i = 0; i < rounds; i++) await Promise.resolve();
}
