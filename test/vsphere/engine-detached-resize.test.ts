/**
 * resizeVolume on a VMware volume no VM holds, through the engine (the command registry) on
 * vcsim: the disk is made on a running VM, detached, grown 1 -> 3 GB (a worker VM on its host
 * takes the file, vCenter edits it to 3 GB, the worker goes, the file stays), and attached again:
 * vCenter shows 3 GB on the VM. A shrink (shrinkok) is refused with 431 and nothing changes.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VsphereDriver } from '../../drivers/vsphere/index.js';
import { asArray, asMoRef, asNumber, asObject, asString, retrieveInventory, type VimClient } from '../../drivers/vsphere/soap/index.js';
import { testEngine, type TestEngine } from '../helpers/engine.js';
import { Vcsim, vcsimOrSkip } from '../helpers/vcsim.js';
import { imageServer, vmwareZone, type VmwareZone } from './vmware-zone.js';

const available = vcsimOrSkip();
const GiB = 1024 ** 3;

describe.skipIf(!available)('resizeVolume on a detached VMware volume, through the engine on vcsim', () => {
  let sim: Vcsim;
  let t: TestEngine;
  let z: VmwareZone;
  let admin: VimClient;
  let images: Awaited<ReturnType<typeof imageServer>>;
  let vm: { id: string; instancename: string };
  let volume: { id: string };
  let file = '';
  let dirs: Map<string, string>;

  const ok = async (command: string, params: Record<string, string>) => {
    const res = await t.call(command, params);
    const job = typeof res.body['jobid'] === 'string' ? await t.engine.jobs.wait(res.body['jobid']) : undefined;
    if (res.status !== 200 || (job && job['jobstatus'] !== 1)) throw new Error(`${command}: ${JSON.stringify(job?.['jobresult'] ?? res.body)}`);
    return (job?.['jobresult'] ?? res.body) as Record<string, unknown>;
  };
  const vms = async () => (await retrieveInventory(admin, [{ type: 'VirtualMachine', pathSet: ['name', 'config.hardware.device'] }])).map((o) => ({ name: String(o.props['name']), devices: asArray(o.props['config.hardware.device']).map(asObject) }));
  /** The volume's disk on the VM as vCenter holds it (KB), or undefined. */
  const onVm = async () => {
    const found = (await vms()).find((v) => v.name === vm.instancename)!;
    const disk = found.devices.find((d) => d.$type === 'VirtualDisk' && asString(asObject(d['backing'])['fileName'])?.endsWith(` ${volume.id}.vmdk`));
    return disk && { file: asString(asObject(disk['backing'])['fileName'])!, kb: asNumber(disk['capacityInKB']) };
  };
  /** vCenter's events of edits to the volume's file by a VM other than the volume's own: [VM name, KB]. */
  const workerEdits = async () => {
    const events = asArray(await admin.call('QueryEvents', asMoRef(admin.serviceContent.raw['eventManager'])!, { filter: { eventTypeId: ['VmReconfiguredEvent'] } })).map(asObject);
    return events.flatMap((e) => asArray(asObject(e['configSpec'])['deviceChange']).map(asObject)
      .filter((c) => c['operation'] === 'edit' && asString(asObject(asObject(c['device'])['backing'])['fileName']) === file)
      .map((c) => [asString(asObject(e['vm'])['name']), asNumber(asObject(c['device'])['capacityInKB'])]))
      .filter(([name]) => name !== vm.instancename);
  };
  const onDatastore = () => {
    const m = /^\[([^\]]+)\] (.*)$/.exec(file)!;
    return existsSync(join(dirs.get(m[1]!)!, m[2]!));
  };
  const row = async () => ((await t.call('listVolumes', { id: volume.id })).body['volume'] as { size: number; state: string; virtualmachineid?: string }[])[0]!;

  beforeAll(async () => {
    sim = Vcsim.start(['-cluster', '1', '-host', '2', '-standalone-host', '0', '-vm', '0', '-ds', '1']);
    admin = await sim.connect();
    images = await imageServer();
    t = await testEngine({ drivers: [new VsphereDriver({ maxWaitSeconds: 1 })] });
    z = await vmwareZone((c, p) => t.call(c, p), sim, images.url);
    dirs = new Map((await retrieveInventory(admin, [{ type: 'Datastore', pathSet: ['name', 'info.url'] }])).map((d) => [String(d.props['name']), String(d.props['info.url'])]));
    vm = (await ok('deployVirtualMachine', { zoneid: z.zoneid, templateid: z.templateid, serviceofferingid: z.offerings['Small Instance']!, networkids: z.networkid, name: 'vmw-resize' }))['virtualmachine'] as typeof vm;
    const custom = t.engine.db.prepare(`SELECT uuid FROM disk_offerings WHERE name='Custom'`).pluck().get() as string;
    volume = (await ok('createVolume', { zoneid: z.zoneid, diskofferingid: custom, size: '1', name: 'vmw-detached' }))['volume'] as typeof volume;
    await ok('attachVolume', { id: volume.id, virtualmachineid: vm.id });
    file = (await onVm())!.file;
    await ok('detachVolume', { id: volume.id });
  }, 120_000);
  afterAll(async () => {
    await t?.close();
    admin?.close();
    await images?.close();
    sim?.stop();
  });

  it('grows the detached volume to 3 GB: a worker VM edits its disk in vCenter and is gone after, the file stays; attached again, the VM has 3 GB', async () => {
    expect(await onVm()).toBeUndefined();
    const before = (await vms()).map((v) => v.name).sort();
    const resized = (await ok('resizeVolume', { id: volume.id, size: '3' }))['volume'] as { size: number; state: string };
    expect(resized).toMatchObject({ size: 3 * GiB, state: 'Ready' });
    expect((await vms()).map((v) => v.name).sort()).toEqual(before);
    expect(onDatastore()).toBe(true);
    expect(await workerEdits()).toEqual([[expect.stringMatching(/^kiln-worker-/), (3 * GiB) / 1024]]);
    await ok('attachVolume', { id: volume.id, virtualmachineid: vm.id });
    expect(await onVm()).toEqual({ file, kb: (3 * GiB) / 1024 });
    expect(await row()).toMatchObject({ size: 3 * GiB, state: 'Ready', virtualmachineid: vm.id });
    await ok('detachVolume', { id: volume.id });
  });

  it('refuses to shrink the detached volume (shrinkok) with 431: the volume keeps 3 GB and Ready, no worker VM is made', async () => {
    const before = (await vms()).map((v) => v.name).sort();
    const edits = (await workerEdits()).length;
    const job = await t.engine.jobs.wait((await t.call('resizeVolume', { id: volume.id, size: '2', shrinkok: 'true' })).body['jobid'] as string);
    expect(job['jobresult']).toMatchObject({ errorcode: 431, errortext: expect.stringMatching(/vSphere cannot shrink disk/) });
    expect(await row()).toMatchObject({ size: 3 * GiB, state: 'Ready' });
    expect((await vms()).map((v) => v.name).sort()).toEqual(before);
    expect((await workerEdits()).length).toBe(edits);
    expect(onDatastore()).toBe(true);
  });
});
