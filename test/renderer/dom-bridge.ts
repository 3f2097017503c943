/**
 * For renderer tests that mount components in happy-dom (`// @vitest-environment happy-dom`):
 * `window.kiln` is a fake bridge whose invoke and subscribe the test scripts, put on the DOM's
 * window (fake-bridge.ts replaces `window` itself, which a DOM test cannot). Import it FIRST: the
 * transport reads `window.kiln` once, when it is first imported.
 */
import { vi } from 'vitest';
import type { ApiEnvelope, ApiParams, KilnBridge, LiveChannel } from '../../preload/api';

export const invoke = vi.fn<(command: string, params?: ApiParams) => Promise<ApiEnvelope>>();
/** Live listeners the components hold, per channel; subscribe/unsubscribe are spies. */
export const live = new Map<LiveChannel, Set<(payload: unknown) => void>>();
export const unsubscribe = vi.fn<(channel: LiveChannel) => void>();
export const subscribe = vi.fn((channel: LiveChannel, listener: (payload: unknown) => void) => {
  let set = live.get(channel);
  if (!set) live.set(channel, (set = new Set()));
  set.add(listener);
  return () => {
    set.delete(listener);
    unsubscribe(channel);
  };
});

const bridge: KilnBridge = { invoke: (command, params) => invoke(command, params ?? {}), subscribe };
(window as unknown as { kiln: KilnBridge }).kiln = bridge;
(globalThis as unknown as { IS_REACT_ACT_ENVIRONMENT: boolean }).IS_REACT_ACT_ENVIRONMENT = true;
