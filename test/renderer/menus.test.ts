// @vitest-environment happy-dom
/**
 * The two menu buttons a user meets, the VM's "Actions" menu (a row of the VM list) and the
 * console's "Send keys" menu, as the WAI-ARIA menu button pattern has them: a button with
 * aria-haspopup/aria-expanded, a labelled role=menu of menuitems out of the tab order, the first
 * item focused when it opens (ArrowDown on the button opens it too), ArrowDown/ArrowUp round the
 * items, Home/End to the ends, Escape and Tab close it and give the focus back to its button, a
 * pointer down outside closes it (on its button, the click toggles it), choosing an item closes it
 * and runs the item. The actions menu stands in document.body beside its button (a row's overflow
 * would clip it), and closes when the page scrolls or the window resizes, since it does not follow
 * its button.
 */
import { invoke } from './dom-bridge';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { act, createElement } from 'react';
import { createRoot, type Root } from 'react-dom/client';
import type { ApiEnvelope } from '../../preload/api';
import type { Vm } from '../../renderer/src/api/model';
import { listApisFixture, listApisResponse } from './list-apis-fixture';

let container: HTMLElement;
let root: Root;
beforeEach(() => {
  invoke.mockReset();
  invoke.mockImplementation(async (command) => {
    if (command === 'listApis') return listApisResponse(listApisFixture()) as ApiEnvelope;
    if (command === 'rebootVirtualMachine') return { success: true } as ApiEnvelope;
    throw new Error(`unexpected ${command}`);
  });
  container = document.createElement('div');
  document.body.appendChild(container);
  root = createRoot(container);
});
afterEach(() => {
  act(() => root.unmount());
  container.remove();
});

const focused = () => document.activeElement?.textContent?.trim();
const menuNamed = (label: string) => document.querySelector<HTMLElement>(`[role="menu"][aria-label="${label}"]`);
const items = (menu: HTMLElement | null) => [...(menu?.querySelectorAll<HTMLElement>('[role="menuitem"]') ?? [])];
const key = (key: string) => act(() => void document.activeElement!.dispatchEvent(new KeyboardEvent('keydown', { key, bubbles: true, cancelable: true })));
const click = (element: Element) => act(() => (element as HTMLElement).click());
const pointerDown = (element: Element) => act(() => void element.dispatchEvent(new Event('pointerdown', { bubbles: true })));

describe('the console\'s Send keys menu', () => {
  const combos = [{ label: 'Ctrl+Alt+Del' }, { label: 'Ctrl+C' }, { label: 'Ctrl+]' }];

  async function mount(disabled = false) {
    const sent: string[] = [];
    const { KeyComboMenu } = await import('../../renderer/src/console/KeyComboMenu');
    await act(async () => root.render(createElement(KeyComboMenu<{ label: string }>, { combos, disabled, onSend: (c) => sent.push(c.label) })));
    const button = container.querySelector<HTMLButtonElement>('button[aria-haspopup="menu"]')!;
    return { sent, button };
  }

  it('is a menu button named Send keys whose menu lists the combinations, the first focused', async () => {
    const { button } = await mount();
    expect(button.textContent).toBe('Send keys ▾');
    expect(button.querySelector('[aria-hidden="true"]')?.textContent).toBe('▾');
    expect(button.getAttribute('aria-expanded')).toBe('false');
    expect(menuNamed('Send keys')).toBeNull();
    await click(button);
    expect(button.getAttribute('aria-expanded')).toBe('true');
    const menu = menuNamed('Send keys');
    // Under its button, in the toolbar (not moved to the document's end).
    expect(container.contains(menu)).toBe(true);
    expect(menu?.className).toBe('menu menu-inline');
    expect(items(menu).map((i) => i.textContent)).toEqual(['Ctrl+Alt+Del', 'Ctrl+C', 'Ctrl+]']);
    expect(items(menu).map((i) => i.tabIndex)).toEqual([-1, -1, -1]);
    expect(focused()).toBe('Ctrl+Alt+Del');
    await click(button);
    expect(menuNamed('Send keys')).toBeNull();
  });

  it('moves with the arrows, Home and End, and Escape closes it back to its button', async () => {
    const { button } = await mount();
    await click(button);
    await key('ArrowDown');
    expect(focused()).toBe('Ctrl+C');
    await key('ArrowDown');
    await key('ArrowDown');
    expect(focused()).toBe('Ctrl+Alt+Del');
    await key('ArrowUp');
    expect(focused()).toBe('Ctrl+]');
    await key('Home');
    expect(focused()).toBe('Ctrl+Alt+Del');
    await key('End');
    expect(focused()).toBe('Ctrl+]');
    await key('Escape');
    expect(menuNamed('Send keys')).toBeNull();
    expect(document.activeElement).toBe(button);
    // ArrowDown on the button opens it; Tab closes it, back to the button.
    await key('ArrowDown');
    expect(focused()).toBe('Ctrl+Alt+Del');
    await key('Tab');
    expect(menuNamed('Send keys')).toBeNull();
    expect(document.activeElement).toBe(button);
  });

  it('sends the chosen combination and closes; a pointer down outside closes it, one inside does not', async () => {
    const { sent, button } = await mount();
    await click(button);
    await click(items(menuNamed('Send keys'))[1]!);
    expect(sent).toEqual(['Ctrl+C']);
    expect(menuNamed('Send keys')).toBeNull();
    await click(button);
    await pointerDown(items(menuNamed('Send keys'))[0]!);
    await pointerDown(button);
    expect(menuNamed('Send keys')).not.toBeNull();
    await pointerDown(document.body);
    expect(menuNamed('Send keys')).toBeNull();
    expect(sent).toEqual(['Ctrl+C']);
  });

  it('is disabled while the console is not connected', async () => {
    const { button } = await mount(true);
    expect(button.disabled).toBe(true);
  });
});

describe('a VM\'s Actions menu', () => {
  const vm: Vm = { id: 'v1', name: 'web-1', displayname: 'web-1', state: 'Running' };

  /** The keys the row around the menu button sees (a grid row with its own arrow keys). */
  const rowKeys = vi.fn();

  async function mount(props: { tabbable?: boolean; label?: string } = {}, record: Vm = vm) {
    const { useApiCatalog } = await import('../../renderer/src/stores/api-catalog-store');
    await useApiCatalog.getState().load();
    const { ActionMenu } = await import('../../renderer/src/components/ActionMenu');
    rowKeys.mockReset();
    await act(async () => root.render(createElement('div', { onKeyDown: rowKeys }, createElement(ActionMenu, { vm: record, ...props }))));
    return container.querySelector<HTMLButtonElement>('button[aria-haspopup="menu"]')!;
  }

  it('is a menu button for the VM; its menu, in the document\'s body, lists the actions its state allows', async () => {
    const button = await mount();
    expect(button.getAttribute('aria-label')).toBe('Actions for web-1');
    expect(button.className).toBe('menu-button');
    expect(button.textContent).toBe('Actions ▾');
    expect(button.tabIndex).toBe(0);
    expect(button.getAttribute('aria-expanded')).toBe('false');
    expect(menuNamed('Actions for web-1')).toBeNull();
    await click(button);
    expect(button.getAttribute('aria-expanded')).toBe('true');
    const menu = menuNamed('Actions for web-1')!;
    expect(menu.parentElement).toBe(document.body);
    expect(menu.className).toBe('menu');
    const labels = items(menu).map((i) => i.textContent);
    expect(labels).toEqual(expect.arrayContaining(['Stop', 'Reboot', 'Console', 'Destroy']));
    expect(labels).not.toContain('Start');
    expect(items(menu).every((i) => i.tabIndex === -1)).toBe(true);
    expect(items(menu).find((i) => i.textContent === 'Destroy')?.className).toBe('danger');
    expect(focused()).toBe(labels[0]);
  });

  it('takes its button\'s name and tab stop from the row', async () => {
    const button = await mount({ tabbable: false, label: 'More' });
    expect(button.getAttribute('aria-label')).toBe('More');
    expect(button.tabIndex).toBe(-1);
    await click(button);
    // The menu is still named for the VM.
    expect(menuNamed('Actions for web-1')).not.toBeNull();
  });

  it('says so when no action applies', async () => {
    const button = await mount({}, { ...vm, state: 'Expunging' });
    await click(button);
    expect(menuNamed('Actions for web-1')?.textContent).toBe('No actions apply while web-1 is Expunging.');
  });

  it('moves with the arrows, Home and End; Escape and Tab close it back to its button; keys stay in the menu', async () => {
    const button = await mount();
    await act(async () => button.focus());
    await key('ArrowDown');
    const labels = items(menuNamed('Actions for web-1')).map((i) => i.textContent);
    expect(focused()).toBe(labels[0]);
    await key('ArrowDown');
    expect(focused()).toBe(labels[1]);
    await key('ArrowUp');
    await key('ArrowUp');
    expect(focused()).toBe(labels.at(-1));
    await key('Home');
    expect(focused()).toBe(labels[0]);
    await key('End');
    expect(focused()).toBe(labels.at(-1));
    await key('Escape');
    expect(menuNamed('Actions for web-1')).toBeNull();
    expect(document.activeElement).toBe(button);
    await click(button);
    await key('Tab');
    expect(menuNamed('Actions for web-1')).toBeNull();
    expect(document.activeElement).toBe(button);
    // The row does not see the button's or the (portalled) menu's keys.
    expect(rowKeys).not.toHaveBeenCalled();
  });

  it('runs the chosen action and closes back to its button', async () => {
    const button = await mount();
    await click(button);
    await click(items(menuNamed('Actions for web-1')).find((i) => i.textContent === 'Reboot')!);
    expect(menuNamed('Actions for web-1')).toBeNull();
    expect(document.activeElement).toBe(button);
    await act(() => new Promise((r) => setTimeout(r, 10)));
    expect(invoke.mock.calls.filter(([c]) => c === 'rebootVirtualMachine').map(([, p]) => p)).toEqual([{ id: 'v1' }]);
  });

  it('closes on a pointer down outside, on a scroll outside it and on a resize, not on one inside', async () => {
    const button = await mount();
    await click(button);
    const menu = menuNamed('Actions for web-1')!;
    await pointerDown(items(menu)[0]!);
    await pointerDown(button);
    await act(() => void menu.dispatchEvent(new Event('scroll')));
    expect(menuNamed('Actions for web-1')).not.toBeNull();
    await pointerDown(document.body);
    expect(menuNamed('Actions for web-1')).toBeNull();
    await click(button);
    await act(() => void document.dispatchEvent(new Event('scroll')));
    expect(menuNamed('Actions for web-1')).toBeNull();
    await click(button);
    await act(() => void window.dispatchEvent(new Event('resize')));
    expect(menuNamed('Actions for web-1')).toBeNull();
  });
});
