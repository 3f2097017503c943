/**
 * listEvents descriptions name the objects they are about, as a user sees them on their pages
 * (the VM's, volume's, snapshot's, group's, zone's and user's names), not by a raw uuid: tags on
 * a VM and a volume, a VM's affinity groups (VM.AFFINITY.GROUP.UPDATE, which Kiln did not record
 * before), VM snapshots, a data volume created, attached, detached and deleted (by its name
 * alone: the uuid beside it is the event's resourceid), a zone's setting and a user's API keys.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { demoIds, deployDemo, testEngine, type TestEngine } from '../helpers/engine.js';

let t: TestEngine;
let vm: Record<string, string>;

beforeAll(async () => {
  t = await testEngine();
  vm = await deployDemo(t, { name: 'named-vm' });
});
afterAll(() => t?.close());

const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/;

/** The descriptions of the events of TYPE, oldest first. */
async function descriptions(type: string): Promise<string[]> {
  const events = ((await t.ok('listEvents', { type }))['event'] as { description: string }[] | undefined) ?? [];
  return events.map((e) => e.description).reverse();
}

describe('event descriptions name their objects', () => {
  it('tags on a VM and on a volume', async () => {
    await t.job('createTags', { resourceids: vm['id']!, resourcetype: 'UserVm', 'tags[0].key': 'env', 'tags[0].value': 'prod' });
    await t.job('deleteTags', { resourceids: vm['id']!, resourcetype: 'UserVm', 'tags[0].key': 'env' });
    const root = ((await t.ok('listVolumes', { virtualmachineid: vm['id']! }))['volume'] as { id: string; name: string }[])[0]!;
    await t.job('createTags', { resourceids: root.id, resourcetype: 'Volume', 'tags[0].key': 'tier', 'tags[0].value': 'gold' });
    expect(await descriptions('CREATE_TAGS')).toEqual(['tags env created on VM named-vm', `tags tier created on volume ${root.name}`]);
    expect(await descriptions('DELETE_TAGS')).toEqual(['tags env deleted from VM named-vm']);
  });

  it("a VM's affinity groups", async () => {
    await t.job('createAffinityGroup', { name: 'apart', type: 'host anti-affinity' });
    await t.job('createAffinityGroup', { name: 'spread', type: 'host anti-affinity' });
    await t.job('stopVirtualMachine', { id: vm['id']! });
    await t.job('updateVMAffinityGroup', { id: vm['id']!, affinitygroupnames: 'apart,spread' });
    await t.job('updateVMAffinityGroup', { id: vm['id']!, affinitygroupids: '' });
    expect(await descriptions('VM.AFFINITY.GROUP.UPDATE')).toEqual(['VM named-vm affinity groups set to apart, spread', 'VM named-vm removed from its affinity groups']);
    const [created] = ((await t.ok('listEvents', { type: 'AG.CREATE' }))['event'] as { description: string; resourceid?: string }[]).slice(-1);
    expect(created).toMatchObject({ description: 'affinity group apart (host anti-affinity) created', resourceid: expect.stringMatching(UUID) });
    await t.job('startVirtualMachine', { id: vm['id']! });
  });

  it('VM snapshots', async () => {
    const snap = await t.job('createVMSnapshot', { virtualmachineid: vm['id']!, name: 'before-upgrade', snapshotmemory: 'false' });
    await t.job('deleteVMSnapshot', { vmsnapshotid: (snap['vmsnapshot'] as { id: string }).id });
    expect(await descriptions('VMSNAPSHOT.CREATE')).toEqual(['VM snapshot before-upgrade of VM named-vm: created (disks)']);
    expect(await descriptions('VMSNAPSHOT.DELETE')).toEqual(['VM snapshot before-upgrade of VM named-vm: deleted']);
  });

  it('a data volume created, attached, detached and deleted', async () => {
    const ids = demoIds(t.engine);
    const volume = (await t.job('createVolume', { name: 'data-disk', zoneid: ids.zoneid, diskofferingid: ids.diskSmall }))['volume'] as { id: string };
    await t.job('attachVolume', { id: volume.id, virtualmachineid: vm['id']! });
    await t.job('detachVolume', { id: volume.id });
    await t.ok('deleteVolume', { id: volume.id });
    expect(await descriptions('VOLUME.CREATE')).toEqual([expect.stringMatching(/^volume data-disk allocated, \d+ GiB from disk offering /)]);
    expect(await descriptions('VOLUME.ATTACH')).toEqual([expect.stringMatching(/^volume data-disk attached to VM named-vm as device \d+, live$/)]);
    expect(await descriptions('VOLUME.DETACH')).toEqual(['volume data-disk detached from VM named-vm, live']);
    expect(await descriptions('VOLUME.DELETE')).toEqual(['volume data-disk deleted']);
  });

  it("a zone's setting and a user's API keys", async () => {
    await t.ok('updateConfiguration', { name: 'max.template.iso.size', value: '60', zoneid: demoIds(t.engine).zoneid });
    expect((await descriptions('CONFIGURATION.VALUE.EDIT')).at(-1)).toBe('configuration max.template.iso.size set to 60 in zone Demo');
    const admin = ((await t.ok('listUsers', { username: 'admin' }))['user'] as { id: string }[])[0]!;
    await t.ok('registerUserKeys', { id: admin.id });
    expect(await descriptions('REGISTER.USER.KEY')).toEqual(['API keys registered for user admin']);
  });

  it('none of these carries a uuid', async () => {
    for (const type of ['CREATE_TAGS', 'DELETE_TAGS', 'VM.AFFINITY.GROUP.UPDATE', 'AG.CREATE', 'VMSNAPSHOT.CREATE', 'VMSNAPSHOT.DELETE', 'VOLUME.CREATE', 'VOLUME.ATTACH', 'VOLUME.DETACH', 'VOLUME.DELETE', 'CONFIGURATION.VALUE.EDIT', 'REGISTER.USER.KEY']) {
      for (const d of await descriptions(type)) expect(d, type).not.toMatch(UUID);
    }
  });
});
