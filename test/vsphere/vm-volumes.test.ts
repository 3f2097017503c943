/**
 * The vSphere volume facet on vcsim, through the contract (HostSession.volumes), each step checked
 * against what vcsim itself holds (a separate SOAP session) and the datastore's directory: a data
 * disk made and hot-added to a running VM with ReconfigVM_Task (add, fileOperation create), grown
 * by an edit, detached (remove, the .vmdk kept), attached again from its file; a shrink, a
 * duplicate and a name that is not Kiln's are refused before anything is sent;
 * a detached disk is grown through a worker VM (vCenter's event log shows the edit, no worker
 * stays; one a dead process left is emptied and destroyed); deleteDisks deletes the detached disk's file.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Endpoint, HostSession, VolumeFacet } from '../../drivers/types.js';
import { VsphereDriver } from '../../drivers/vsphere/index.js';
import { MoRef, asArray, asMoRef, asNumber, asObject, asString, getProperties, retrieveInventory, typed, vm as vim, waitForTask, type VimClient } from '../../drivers/vsphere/soap/index.js';
import { capabilityMap } from '../../main/engine/hosts/host-manager.js';
import { Vcsim, vcsimOrSkip } from '../helpers/vcsim.js';
import { driverError } from '../conformance/contract.js';

const available = vcsimOrSkip();
const GiB = 1024 ** 3;
const NAME = '3f6c1d2e-5b7a-4c8d-9e0f-1a2b3c4d5e6f.vmdk';

describe.skipIf(!available)('vSphere volume facet on vcsim', () => {
  let sim: Vcsim;
  let admin: VimClient;
  let ep: Endpoint;
  let host: HostSession;
  let volumes: VolumeFacet;
  let vm: string;
  let datastoreDir: string;
  let file: string;

  /** The VM's data disks as vcsim holds them: file name and capacity (KB). */
  const disks = async () =>
    asArray((await getProperties(admin, new MoRef('VirtualMachine', vm), ['config.hardware.device']))['config.hardware.device'])
      .map(asObject)
      .filter((d) => d.$type === 'VirtualDisk')
      .map((d) => ({ file: asString(asObject(d['backing'])['fileName']), kb: asNumber(d['capacityInKB']) }));
  const ours = async () => (await disks()).find((d) => d.file === file);
  const vmNames = async () => (await retrieveInventory(admin, [{ type: 'VirtualMachine', pathSet: ['name'] }])).map((o) => String(o.props['name'])).sort();
  /** vCenter's events of disk edits (ReconfigVM_Task with a VirtualDisk 'edit'): the VM, the disk's file, the new capacity. */
  const diskEdits = async () => {
    // The latest 1000 (vcsim's QueryEvents gives 10 unless maxCount says more).
    const events = asArray(await admin.call('QueryEvents', asMoRef(admin.serviceContent.raw['eventManager'])!, { filter: { eventTypeId: ['VmReconfiguredEvent'], maxCount: 1000 } })).map(asObject);
    return events.flatMap((e) => asArray(asObject(e['configSpec'])['deviceChange']).map(asObject)
      .filter((c) => c['operation'] === 'edit' && asObject(c['device']).$type === 'VirtualDisk')
      .map((c) => ({ vm: asString(asObject(e['vm'])['name']), file: asString(asObject(asObject(c['device'])['backing'])['fileName']), kb: asNumber(asObject(c['device'])['capacityInKB']) })))
      .filter((x) => x.file === file && x.vm?.startsWith('kiln-worker-'));
  };

  beforeAll(async () => {
    sim = Vcsim.start(['-cluster', '1', '-host', '1', '-standalone-host', '0', '-vm', '1', '-ds', '1']);
    admin = await sim.connect();
    const info = sim.info;
    ep = await new VsphereDriver({ maxWaitSeconds: 2 }).connect({ hostId: 'h1', url: `https://${info.host}:${info.port}/DC0`, username: info.username, password: info.password, pinnedTrust: { kind: 'tls-certificate', fingerprint: info.thumbprint } });
    host = ep.host((await ep.hosts())[0]!.ref);
    vm = (await host.listInstances())[0]!.ref;
    const ds = (await retrieveInventory(admin, [{ type: 'Datastore', pathSet: ['name', 'info.url'] }]))[0]!;
    datastoreDir = String(ds.props['info.url']);
    file = `[${String(ds.props['name'])}] ${NAME}`;
    volumes = host.volumes!;
  });
  afterAll(async () => {
    await ep?.close();
    admin?.close();
    sim?.stop();
  });

  it('publishes the facet, so the engine decides by capability', () => {
    expect(capabilityMap(host)['volumes']).toBe(true);
  });

  it('hot-adds a new thin disk to the running VM: its file on the datastore, its capacity as asked', async () => {
    expect((await getProperties(admin, new MoRef('VirtualMachine', vm), ['runtime.powerState']))['runtime.powerState']).toBe('poweredOn');
    const before = (await disks()).length;
    const made = await volumes.attach(vm, { name: NAME, sizeBytes: GiB }, { live: true, create: true });
    expect(made.ref).toMatch(/^\d+$/);
    expect(await ours()).toEqual({ file, kb: GiB / 1024 });
    expect((await disks()).length).toBe(before + 1);
    expect(existsSync(join(datastoreDir, NAME))).toBe(true);
  });

  it('grows it by an edit; a shrink is refused and changes nothing', async () => {
    await volumes.resize({ name: NAME, sizeBytes: GiB }, 2 * GiB, { vm, live: true, shrink: false });
    expect((await ours())?.kb).toBe((2 * GiB) / 1024);
    const shrink = await driverError(() => volumes.resize({ name: NAME, sizeBytes: 2 * GiB }, GiB, { vm, live: true, shrink: true }));
    expect(shrink.category).toBe('unsupported');
    expect(shrink.message).toMatch(/cannot shrink/);
    expect((await ours())?.kb).toBe((2 * GiB) / 1024);
  });

  it('refuses a disk the VM already has, and a name that is not a Kiln volume name, before anything is sent', async () => {
    const twice = await driverError(() => volumes.attach(vm, { name: NAME, sizeBytes: GiB }, { live: true, create: false }));
    expect(twice.category).toBe('invalid');
    const count = (await disks()).length;
    const hostile = await driverError(() => volumes.attach(vm, { name: '../x] [other', sizeBytes: GiB }, { live: true, create: true }));
    expect(hostile.category).toBe('invalid');
    expect((await disks()).length).toBe(count);
  });

  it('detaches it (the file stays on the datastore) and attaches it again from its file', async () => {
    await volumes.detach(vm, { name: NAME, sizeBytes: 2 * GiB }, { live: true });
    expect(await ours()).toBeUndefined();
    expect(existsSync(join(datastoreDir, NAME))).toBe(true);
    const gone = await driverError(() => volumes.detach(vm, { name: NAME, sizeBytes: 2 * GiB }, { live: true }));
    expect(gone.category).toBe('not-found');
    await volumes.attach(vm, { name: NAME, sizeBytes: 2 * GiB }, { live: true, create: false });
    expect((await ours())?.file).toBe(file);
    await volumes.detach(vm, { name: NAME, sizeBytes: 2 * GiB }, { live: true });
  });

  it('resizes the detached disk through a worker VM on the host: vCenter edits the disk to the new size, then the worker is gone and the file kept', async () => {
    const vmsBefore = await vmNames();
    const shrink = await driverError(() => volumes.resize({ name: NAME, sizeBytes: 2 * GiB }, GiB, { live: false, shrink: true }));
    expect(shrink.category).toBe('unsupported');
    await volumes.resize({ name: NAME, sizeBytes: 2 * GiB }, 3 * GiB, { live: false, shrink: false });
    expect(await vmNames()).toEqual(vmsBefore);
    expect(existsSync(join(datastoreDir, NAME))).toBe(true);
    // vCenter's own record of it: the worker's ReconfigVM_Task edited this very file to 3 GiB.
    expect(await diskEdits()).toEqual([{ vm: 'kiln-worker-3f6c1d2e-5b7a-4c8d-9e0f-1a2b3c4d5e6f', file, kb: (3 * GiB) / 1024 }]);
    await volumes.attach(vm, { name: NAME, sizeBytes: 3 * GiB }, { live: true, create: false });
    expect((await ours())?.kb).toBe((3 * GiB) / 1024);
    await volumes.detach(vm, { name: NAME, sizeBytes: 3 * GiB }, { live: true });
  });

  it('a worker VM a dead process left holding the disk is emptied (the file kept) and destroyed by the next resize', async () => {
    const inv = await retrieveInventory(admin, [{ type: 'Datacenter', pathSet: ['vmFolder'] }, { type: 'HostSystem', pathSet: ['parent'] }, { type: 'ClusterComputeResource', pathSet: ['resourcePool'] }]);
    const folder = asMoRef(inv.find((o) => o.obj.type === 'Datacenter')!.props['vmFolder'])!;
    const pool = asMoRef(inv.find((o) => o.obj.type === 'ClusterComputeResource')!.props['resourcePool'])!;
    const left = await vim.createVm(admin, folder, {
      name: 'kiln-worker-3f6c1d2e-5b7a-4c8d-9e0f-1a2b3c4d5e6f', guestId: 'otherGuest64', files: { vmPathName: file.replace(/ .*$/, '') }, numCPUs: 1, memoryMB: 64,
      deviceChange: [
        { operation: 'add', device: typed('VirtualLsiLogicController', { key: -100, busNumber: 0, sharedBus: 'noSharing' }) },
        { operation: 'add', device: typed('VirtualDisk', { key: -200, backing: typed('VirtualDiskFlatVer2BackingInfo', { fileName: file, diskMode: 'persistent' }), controllerKey: -100, unitNumber: 0, capacityInKB: (3 * GiB) / 1024 }) },
      ],
    }, pool);
    await waitForTask(admin, left.ref);
    expect((await vmNames()).filter((n) => n.startsWith('kiln-worker-'))).toHaveLength(1);
    await volumes.resize({ name: NAME, sizeBytes: 3 * GiB }, 4 * GiB, { live: false, shrink: false });
    expect((await vmNames()).filter((n) => n.startsWith('kiln-worker-'))).toEqual([]);
    expect(existsSync(join(datastoreDir, NAME))).toBe(true);
    expect(await diskEdits()).toContainEqual({ vm: 'kiln-worker-3f6c1d2e-5b7a-4c8d-9e0f-1a2b3c4d5e6f', file, kb: (4 * GiB) / 1024 });
  });

  it('deleteDisks deletes the detached disk\'s file (deleteVolume), and a file already gone counts as deleted', async () => {
    await host.deleteDisks([NAME]);
    expect(existsSync(join(datastoreDir, NAME))).toBe(false);
    await host.deleteDisks([NAME]);
  });
});
