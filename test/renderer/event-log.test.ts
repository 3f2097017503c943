// @vitest-environment happy-dom
/**
 * The event log's live subscription: one per mounted view, however often the filter changes
 * (each change used to subscribe again and never unsubscribe), new events reload with the filter
 * as it is then, and unmounting the view ends the subscription.
 */
import { invoke, live, subscribe, unsubscribe } from './dom-bridge';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { act, createElement } from 'react';
import { createRoot, type Root } from 'react-dom/client';
import { EventLog } from '../../renderer/src/views/EventLog';

const wait = (ms: number) => act(() => new Promise<void>((r) => setTimeout(r, ms)));

/** Sets a form control's value the way typing or choosing does, so React's onChange sees it. */
function change(element: HTMLInputElement | HTMLSelectElement, value: string): void {
  const proto = element instanceof HTMLSelectElement ? HTMLSelectElement.prototype : HTMLInputElement.prototype;
  Object.getOwnPropertyDescriptor(proto, 'value')!.set!.call(element, value);
  element.dispatchEvent(new Event(element instanceof HTMLSelectElement ? 'change' : 'input', { bubbles: true }));
}

let root: Root;
let container: HTMLElement;

beforeEach(() => {
  invoke.mockReset();
  subscribe.mockClear();
  unsubscribe.mockClear();
  live.clear();
  invoke.mockImplementation(async (command, params) => {
    if (command !== 'listEvents') throw new Error(`unexpected ${command}`);
    return { count: 1, event: [{ id: 'e1', type: 'VM.START', level: params?.['level'] ?? 'INFO', state: 'Completed', description: 'started web-1', created: '2026-12-01T08:00:00+0000', username: 'admin' }] };
  });
  container = document.createElement('div');
  document.body.appendChild(container);
  root = createRoot(container);
});
afterEach(() => {
  container.remove();
});

describe('EventLog live subscription', () => {
  it('subscribes once, keeps it through filter changes, reloads with the current filter, and unsubscribes on unmount', async () => {
    await act(async () => root.render(createElement(EventLog)));
    await wait(250);
    expect(container.textContent).toContain('started web-1');
    expect(subscribe).toHaveBeenCalledTimes(1);
    expect(subscribe.mock.calls[0]![0]).toBe('events');

    const level = container.querySelector('select')!;
    const type = container.querySelector<HTMLInputElement>('input[list]')!;
    await act(async () => change(level, 'WARN'));
    await wait(250);
    await act(async () => change(type, 'VM.STOP'));
    await wait(250);
    const lastList = () => invoke.mock.calls.filter(([c]) => c === 'listEvents').at(-1)![1];
    expect(lastList()).toMatchObject({ level: 'WARN', type: 'VM.STOP' });
    // Still the one subscription: nothing subscribed again, nothing ended.
    expect(subscribe).toHaveBeenCalledTimes(1);
    expect(unsubscribe).not.toHaveBeenCalled();
    expect(live.get('events')?.size).toBe(1);

    // A new event reloads with the filter as it is now.
    const calls = invoke.mock.calls.length;
    await act(async () => [...live.get('events')!][0]!({ id: 'e2' }));
    await wait(600);
    expect(invoke.mock.calls.length).toBe(calls + 1);
    expect(lastList()).toMatchObject({ level: 'WARN', type: 'VM.STOP' });

    await act(async () => root.unmount());
    expect(unsubscribe).toHaveBeenCalledTimes(1);
    expect(unsubscribe).toHaveBeenCalledWith('events');
    expect(live.get('events')?.size).toBe(0);
  });
});
