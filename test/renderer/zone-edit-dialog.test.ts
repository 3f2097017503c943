// @vitest-environment happy-dom
/**
 * A zone's Edit… dialog (Hosts page) pre-fills the sort key listZones answers, sends it only when
 * changed, and saves details the CloudStack way: updateZone details with only the new and changed
 * pairs (it merges them into the zone's), one removeResourceDetail resourcetype=Zone key=… per
 * removed row, and updateZone cleanupdetails=true when every row is removed; an engine without a
 * way to remove a detail gets no call and the form says why.
 */
import { invoke } from './dom-bridge';
import { describe, expect, it } from 'vitest';
import { act, createElement } from 'react';
import { domView, wait } from './dom-view';
import type { ApiInfo } from '../../renderer/src/stores/api-catalog-store';

const zone = { id: 'z1', name: 'Lab', allocationstate: 'Enabled', dns1: '8.8.8.8', sortkey: 7, resourcedetails: { owner: 'lab' } };
const { container, render } = domView(['listZones', 'updateZone'], {
  updateZone: () => ({ zone }),
  removeResourceDetail: () => ({ jobid: 'j1' }),
  queryAsyncJobResult: () => ({ jobid: 'j1', jobstatus: 1, jobresult: { success: true } }),
});

const updateZone = (extra: string[]): ApiInfo => ({
  name: 'updateZone',
  isasync: false,
  params: [
    { name: 'id', required: true, type: 'uuid' },
    { name: 'dns1', required: false, type: 'string' },
    { name: 'sortkey', required: false, type: 'integer' },
    { name: 'details', required: false, type: 'map' },
    ...extra.map((name) => ({ name, required: false, type: 'boolean' })),
  ],
});

/** CloudStack's removeResourceDetail as Kiln publishes it. */
const removeResourceDetail: ApiInfo = {
  name: 'removeResourceDetail',
  isasync: true,
  params: [
    { name: 'resourcetype', required: true, type: 'string' },
    { name: 'resourceid', required: true, type: 'uuid' },
    { name: 'key', required: false, type: 'string' },
  ],
};

/** The catalog as an engine publishes updateZone (with or without cleanupdetails) and the others, after the view's first load. */
async function publish(...apis: ApiInfo[]): Promise<void> {
  const { useApiCatalog } = await import('../../renderer/src/stores/api-catalog-store');
  await useApiCatalog.getState().load();
  useApiCatalog.setState({ apis: new Map(apis.map((api) => [api.name.toLowerCase(), api])) });
}

const field = (label: string) => {
  const row = [...container.querySelectorAll('.form-row')].find((r) => r.querySelector('label')?.textContent === label);
  return row?.querySelector('input') as HTMLInputElement | undefined;
};
const button = (text: string) => [...container.querySelectorAll('button')].find((b) => b.textContent === text || b.getAttribute('aria-label') === text) as HTMLButtonElement;
const calls = (command = 'updateZone') => invoke.mock.calls.filter(([c]) => c === command).map(([, p]) => p);

describe('the zone Edit… dialog', () => {
  it('pre-fills the sort key, and removing the last detail sends cleanupdetails=true', async () => {
    const { ZoneEditDialog } = await import('../../renderer/src/views/hosts/ZoneEditDialog');
    await render(createElement('div'));
    await publish(updateZone(['cleanupdetails']), removeResourceDetail);
    await render(createElement(ZoneEditDialog, { zone, onClose: () => undefined }));
    expect(field('Sort key')?.value).toBe('7');
    expect(field('DNS 1')?.value).toBe('8.8.8.8');
    // Nothing changed: nothing to send.
    expect(button('Save').disabled).toBe(true);
    await act(async () => button('Remove detail owner').click());
    await wait(20);
    expect(container.textContent).not.toContain('cannot be removed');
    await act(async () => button('Save').click());
    await wait(20);
    expect(calls()).toEqual([{ id: 'z1', cleanupdetails: 'true' }]);
    expect(calls('removeResourceDetail')).toEqual([]);
  });

  it('sends only the changed and new details to updateZone, and removes one row with removeResourceDetail', async () => {
    const { ZoneEditDialog } = await import('../../renderer/src/views/hosts/ZoneEditDialog');
    await render(createElement('div'));
    await publish(updateZone(['cleanupdetails']), removeResourceDetail);
    const racked = { ...zone, resourcedetails: { owner: 'lab', rack: 'A4', row: '7' } };
    let closed = 0;
    await render(createElement(ZoneEditDialog, { zone: racked, onClose: () => void closed++ }));
    await act(async () => button('Remove detail rack').click());
    await wait(20);
    const value = container.querySelector('input[aria-label="Detail 1 value"]') as HTMLInputElement;
    await act(async () => {
      const set = Object.getOwnPropertyDescriptor(HTMLInputElement.prototype, 'value')!.set!;
      set.call(value, 'ops');
      value.dispatchEvent(new Event('input', { bubbles: true }));
    });
    await wait(20);
    await act(async () => button('Save').click());
    await wait(50);
    // row, unchanged, is not sent: updateZone keeps it.
    expect(calls()).toEqual([{ id: 'z1', 'details[0].key': 'owner', 'details[0].value': 'ops' }]);
    expect(calls('removeResourceDetail')).toEqual([{ resourcetype: 'Zone', resourceid: 'z1', key: 'rack' }]);
    expect(closed).toBe(1);
  });

  it('removing one row alone is one removeResourceDetail, no updateZone', async () => {
    const { ZoneEditDialog } = await import('../../renderer/src/views/hosts/ZoneEditDialog');
    await render(createElement('div'));
    await publish(updateZone(['cleanupdetails']), removeResourceDetail);
    await render(createElement(ZoneEditDialog, { zone: { ...zone, resourcedetails: { owner: 'lab', rack: 'A4' } }, onClose: () => undefined }));
    await act(async () => button('Remove detail owner').click());
    await wait(20);
    expect(button('Save').disabled).toBe(false);
    await act(async () => button('Save').click());
    await wait(50);
    expect(calls()).toEqual([]);
    expect(calls('removeResourceDetail')).toEqual([{ resourcetype: 'Zone', resourceid: 'z1', key: 'owner' }]);
  });

  it('on an engine without cleanupdetails nor removeResourceDetail, says the detail cannot be removed and sends nothing', async () => {
    const { ZoneEditDialog } = await import('../../renderer/src/views/hosts/ZoneEditDialog');
    await render(createElement('div'));
    await publish(updateZone([]));
    await render(createElement(ZoneEditDialog, { zone, onClose: () => undefined }));
    await act(async () => button('Remove detail owner').click());
    await wait(20);
    expect(container.querySelector('[role="note"]')?.textContent).toBe('details: updateZone only adds or sets details, and this engine has no removeResourceDetail, so detail owner cannot be removed');
    expect(button('Save').disabled).toBe(true);
    expect(calls()).toEqual([]);
  });
});
