/**
 * Data volumes on VMware VMs through the engine (the command registry) on vcsim: createVolume,
 * attachVolume to the running VM (a VirtualDisk [datastore] <uuid>.vmdk appears in vCenter),
 * resizeVolume (its capacity in vCenter), resized while detached (a worker VM edits it: vCenter's
 * event log; a shrink refused), detachVolume (gone from the VM, the file kept), attached again,
 * kept when the VM is expunged, and deleteVolume (the file leaves the datastore). Each step is
 * read back from vCenter over its own SOAP session and from vcsim's datastore directory.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { asArray, asMoRef, asNumber, asObject, asString, retrieveInventory, type VimClient } from '../../drivers/vsphere/soap/index.js';
import type { TestEngine } from '../helpers/engine.js';
import { vcsimOrSkip } from '../helpers/vcsim.js';
import { vmwareEngineSuite, type VmwareZone } from './vmware-zone.js';

const available = vcsimOrSkip();
const GiB = 1024 ** 3;

describe.skipIf(!available)('volumes on VMware VMs through the engine on vcsim', () => {
  const suite = vmwareEngineSuite(['-cluster', '1', '-host', '1', '-standalone-host', '0', '-vm', '0', '-ds', '1', '-task-time', '100ms'], {}, { timeout: 90_000 });
  let t: TestEngine;
  let z: VmwareZone;
  let admin: VimClient;
  let vm: { id: string; instancename: string };
  let volume: { id: string };
  /** Each datastore's directory on this machine (vcsim keeps datastores as plain directories). */
  let dirs: Map<string, string>;

  const ok = async (command: string, params: Record<string, string>) => {
    const res = await t.call(command, params);
    const job = typeof res.body['jobid'] === 'string' ? await t.engine.jobs.wait(res.body['jobid']) : undefined;
    if (res.status !== 200 || (job && job['jobstatus'] !== 1)) throw new Error(`${command}: ${JSON.stringify(job?.['jobresult'] ?? res.body)}`);
    return (job?.['jobresult'] ?? res.body) as Record<string, unknown>;
  };
  /** The VM's disks as vCenter holds them: file and capacity (KB). */
  const vcenterDisks = async () => {
    const found = (await retrieveInventory(admin, [{ type: 'VirtualMachine', pathSet: ['name', 'config.hardware.device'] }])).find((o) => o.props['name'] === vm.instancename)!;
    return asArray(found.props['config.hardware.device']).map(asObject).filter((d) => d.$type === 'VirtualDisk').map((d) => ({ file: asString(asObject(d['backing'])['fileName']) ?? '', kb: asNumber(d['capacityInKB']) }));
  };
  const ours = async () => (await vcenterDisks()).find((d) => d.file.endsWith(` ${volume.id}.vmdk`));
  const vmNames = async () => (await retrieveInventory(admin, [{ type: 'VirtualMachine', pathSet: ['name'] }])).map((o) => String(o.props['name'])).sort();
  /** vCenter's events of edits to FILE by a VM other than the volume's own: [VM name, KB]. */
  const workerEdits = async (file: string) => {
    // The latest 1000 (vcsim's QueryEvents gives 10 unless maxCount says more).
    const events = asArray(await admin.call('QueryEvents', asMoRef(admin.serviceContent.raw['eventManager'])!, { filter: { eventTypeId: ['VmReconfiguredEvent'], maxCount: 1000 } })).map(asObject);
    return events.flatMap((e) => asArray(asObject(e['configSpec'])['deviceChange']).map(asObject)
      .filter((c) => c['operation'] === 'edit' && asString(asObject(asObject(c['device'])['backing'])['fileName']) === file)
      .map((c) => [asString(asObject(e['vm'])['name']), asNumber(asObject(c['device'])['capacityInKB'])]))
      .filter(([name]) => name !== vm.instancename);
  };
  const onDatastore = (file: string) => {
    const m = /^\[([^\]]+)\] (.*)$/.exec(file)!;
    return existsSync(join(dirs.get(m[1]!)!, m[2]!));
  };

  beforeAll(async () => {
    ({ t, z, admin } = suite);
    dirs = new Map((await retrieveInventory(admin, [{ type: 'Datastore', pathSet: ['name', 'info.url'] }])).map((d) => [String(d.props['name']), String(d.props['info.url'])]));
    vm = (await ok('deployVirtualMachine', { zoneid: z.zoneid, templateid: z.templateid, serviceofferingid: z.offerings['Small Instance']!, networkids: z.networkid, name: 'vmw-disks' }))['virtualmachine'] as typeof vm;
  }, 90_000);

  it('attaches a new volume to the running VM: a thin VirtualDisk of its size in vCenter, its file on the datastore', async () => {
    const custom = t.engine.db.prepare(`SELECT uuid FROM disk_offerings WHERE name='Custom'`).pluck().get() as string;
    volume = (await ok('createVolume', { zoneid: z.zoneid, diskofferingid: custom, size: '1', name: 'vmw-data' }))['volume'] as typeof volume;
    const attached = (await ok('attachVolume', { id: volume.id, virtualmachineid: vm.id }))['volume'];
    expect(attached).toMatchObject({ state: 'Ready', deviceid: 1, hypervisor: 'VMware' });
    const disk = (await ours())!;
    expect(disk.kb).toBe(GiB / 1024);
    expect(onDatastore(disk.file)).toBe(true);
  });

  it('grows it (vCenter shows the new capacity); a shrink is refused with 431 and changes nothing', async () => {
    expect(((await ok('resizeVolume', { id: volume.id, size: '2' }))['volume'] as { size: number }).size).toBe(2 * GiB);
    expect((await ours())!.kb).toBe((2 * GiB) / 1024);
    const job = await t.engine.jobs.wait((await t.call('resizeVolume', { id: volume.id, size: '1', shrinkok: 'true' })).body['jobid'] as string);
    expect(job['jobresult']).toMatchObject({ errorcode: 431, errortext: expect.stringMatching(/vSphere cannot shrink/) });
    expect((await ours())!.kb).toBe((2 * GiB) / 1024);
    expect(((await t.call('listVolumes', { id: volume.id })).body['volume'] as { size: number; state: string }[])[0]).toMatchObject({ size: 2 * GiB, state: 'Ready' });
  });

  it('grows the root disk too (found by its device key: it lives in the VM\'s folder)', async () => {
    const root = ((await t.call('listVolumes', { virtualmachineid: vm.id, type: 'ROOT' })).body['volume'] as { id: string }[])[0]!;
    const before = (await vcenterDisks()).filter((d) => !d.file.endsWith(` ${volume.id}.vmdk`));
    expect(before).toHaveLength(1);
    expect(((await ok('resizeVolume', { id: root.id, size: '3' }))['volume'] as { size: number }).size).toBe(3 * GiB);
    expect((await vcenterDisks()).find((d) => d.file === before[0]!.file)?.kb).toBe((3 * GiB) / 1024);
  });

  it('grows it while detached, 2 -> 3 GB: a worker VM on its host edits the disk in vCenter and is gone after, the file stays; attached again the VM has 3 GB', async () => {
    const file = (await ours())!.file;
    await ok('detachVolume', { id: volume.id });
    const vmsBefore = await vmNames();
    expect(((await ok('resizeVolume', { id: volume.id, size: '3' }))['volume'] as { size: number; state: string })).toMatchObject({ size: 3 * GiB, state: 'Ready' });
    expect(await vmNames()).toEqual(vmsBefore);
    expect(onDatastore(file)).toBe(true);
    expect(await workerEdits(file)).toEqual([[expect.stringMatching(/^kiln-worker-/), (3 * GiB) / 1024]]);
    // A shrink (shrinkok) of the detached disk: 431, still 3 GB and Ready, no worker made.
    const job = await t.engine.jobs.wait((await t.call('resizeVolume', { id: volume.id, size: '2', shrinkok: 'true' })).body['jobid'] as string);
    expect(job['jobresult']).toMatchObject({ errorcode: 431, errortext: expect.stringMatching(/vSphere cannot shrink disk/) });
    expect(((await t.call('listVolumes', { id: volume.id })).body['volume'] as { size: number; state: string }[])[0]).toMatchObject({ size: 3 * GiB, state: 'Ready' });
    expect(await workerEdits(file)).toHaveLength(1);
    await ok('attachVolume', { id: volume.id, virtualmachineid: vm.id });
    expect(await ours()).toEqual({ file, kb: (3 * GiB) / 1024 });
  });

  it('detaches it (gone from the VM, the file kept), and the expunged VM leaves it behind; deleteVolume removes the file', async () => {
    const file = (await ours())!.file;
    await ok('detachVolume', { id: volume.id });
    expect(await ours()).toBeUndefined();
    expect(onDatastore(file)).toBe(true);
    await ok('attachVolume', { id: volume.id, virtualmachineid: vm.id });
    expect((await ours())?.file).toBe(file);
    await ok('destroyVirtualMachine', { id: vm.id, expunge: 'true' });
    expect(onDatastore(file)).toBe(true);
    expect(((await t.call('listVolumes', { id: volume.id })).body['volume'] as { state: string; virtualmachineid?: string }[])[0]).toMatchObject({ state: 'Ready' });
    expect((await t.call('deleteVolume', { id: volume.id })).status).toBe(200);
    expect(onDatastore(file)).toBe(false);
  });
});
