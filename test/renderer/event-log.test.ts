// @vitest-environment happy-dom
/**
 * The event log's live subscription: one per mounted view, however often the filter changes
 * (each change used to subscribe again and never unsubscribe), pushed event records that the
 * filter as it is then matches are shown with no request, and unmounting the view ends the
 * subscription.
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

    // New events arrive as records: the one the filter as it is now matches is shown at the top,
    // the other is not, and neither costs a request.
    const calls = invoke.mock.calls.length;
    const pushed = (id: string, level: string, description: string) => ({ id, type: 'VM.STOP', level, state: 'Completed', description, created: '2026-12-01T08:01:00+0000', username: 'admin' });
    await act(async () => [...live.get('events')!][0]!({ changed: [pushed('e3', 'INFO', 'stopped info-1'), pushed('e2', 'WARN', 'stopped warn-1')], removed: [] }));
    await wait(600);
    expect(invoke.mock.calls.length).toBe(calls);
    const rows = [...container.querySelectorAll('tbody tr')].map((tr) => tr.textContent);
    expect(rows[0]).toContain('stopped warn-1');
    expect(rows).toHaveLength(2);
    expect(container.textContent).not.toContain('stopped info-1');

    await act(async () => root.unmount());
    expect(unsubscribe).toHaveBeenCalledTimes(1);
    expect(unsubscribe).toHaveBeenCalledWith('events');
    expect(live.get('events')?.size).toBe(0);
  });
});
