/**
 * Hostile VM names through CreateVM_Task and Rename_Task on vcsim: markup, quotes, ampersands
 * and a CDATA terminator are sent as text (escaped by the XML library) and come back exactly.
 * A name that broke out of its element would fail the call or come back changed.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asMoRef, getProperties, retrieveInventory, waitForTask, type MoRef, type VimClient } from '../../drivers/vsphere/soap/index.js';
import { Vcsim, vcsimOrSkip } from '../helpers/vcsim.js';

const available = vcsimOrSkip();

const HOSTILE = [
  '<b>&"\'',
  ']]>',
  'a]]><name>evil<name>&amp;\'"',
  // No '/': vCenter stores it as %2f (and '%' as %25, '\\' as %5c) and vcsim makes a directory
  // of the name; the driver decodes those, which is not this layer's business.
  '<config><pool type="ResourcePool">resgroup-1<pool>',
  '  spaced  ',
  'ünïcødé 名前 😀',
];

describe.skipIf(!available)('hostile VM names on vcsim', () => {
  let sim: Vcsim;
  let client: VimClient;
  let folder: MoRef;
  let pool: MoRef;
  const created: MoRef[] = [];
  const run = async (method: string, self: MoRef, args = {}) => waitForTask(client, asMoRef(await client.call(method, self, args))!);

  beforeAll(async () => {
    sim = Vcsim.start(['-cluster', '1', '-host', '1', '-standalone-host', '0', '-vm', '0']);
    client = await sim.connect();
    const inv = await retrieveInventory(client, [
      { type: 'Datacenter', pathSet: ['vmFolder'] },
      { type: 'ClusterComputeResource', pathSet: ['resourcePool'] },
    ]);
    folder = asMoRef(inv.find((o) => o.obj.type === 'Datacenter')!.props['vmFolder'])!;
    pool = asMoRef(inv.find((o) => o.obj.type === 'ClusterComputeResource')!.props['resourcePool'])!;
  });
  afterAll(async () => {
    for (const vm of created) await run('Destroy_Task', vm).catch(() => undefined);
    client?.close();
    sim?.stop();
  });

  it('CreateVM_Task stores each name exactly as given', async () => {
    for (const name of HOSTILE) {
      const vm = asMoRef(await run('CreateVM_Task', folder, {
        config: { name, guestId: 'otherGuest', files: { vmPathName: '[LocalDS_0]' }, numCPUs: 1, memoryMB: 32 },
        pool,
      }))!;
      created.push(vm);
      expect((await getProperties(client, vm, ['name']))['name']).toBe(name);
    }
    const names = (await retrieveInventory(client, [{ type: 'VirtualMachine', pathSet: ['name'] }])).map((o) => o.props['name']);
    expect(names.sort()).toEqual([...HOSTILE].sort());
  });

  it('Rename_Task round-trips each name, and renaming back restores the first', async () => {
    const vm = created[0]!;
    for (const name of [...HOSTILE].reverse()) {
      await run('Rename_Task', vm, { newName: `${name} (renamed)` });
      expect((await getProperties(client, vm, ['name']))['name']).toBe(`${name} (renamed)`);
    }
    await run('Rename_Task', vm, { newName: HOSTILE[0] });
    expect((await getProperties(client, vm, ['name']))['name']).toBe(HOSTILE[0]);
  });
});
