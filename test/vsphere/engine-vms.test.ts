/**
 * VMware VMs through the engine (the command registry, as the HTTP transport calls it) on vcsim:
 * a template Kiln downloaded reaches vCenter (a flat VMDK on a datastore, a vSphere template
 * around it) and VMs are cloned from it under their internal name (R3), with the template's R30
 * details; stop (guest shutdown, the power-off after vm.stop.timeout, forced), start, reboot,
 * scale (refused without Tools), live migration with and without storage, a snapshot tree, destroy
 * and expunge, each with the state listVirtualMachines shows and what vCenter then holds. A failed
 * deploy leaves nothing in vCenter. A changed vCenter certificate is refused until acceptHostKey.
 */
import { createHash } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import type { VsphereEndpoint } from '../../drivers/vsphere/index.js';
import { MoRef, asArray, asMoRef, asObject, asString, getProperties, retrieveInventory, typed, vm as vim, waitForTask, type VimClient } from '../../drivers/vsphere/soap/index.js';
import type { TestEngine } from '../helpers/engine.js';
import { vcsimOrSkip, type Vcsim } from '../helpers/vcsim.js';
import { setToolsStatus } from '../helpers/vcsim-fixtures.js';
import { RAW_IMAGE, datastoreGet, vmwareEngineSuite, type VmwareEngineSuite, type VmwareZone } from './vmware-zone.js';

const available = vcsimOrSkip();

interface Vm { id: string; state: string; instancename: string; hostname?: string; hostid?: string; details?: Record<string, string>; cpunumber: number; memory: number }

describe.skipIf(!available)('VMware VMs through the engine on vcsim', () => {
  const suite = vmwareEngineSuite(['-cluster', '1', '-host', '2', '-standalone-host', '0', '-vm', '0', '-ds', '2', '-shutdown-time', '1500ms', '-task-time', '300ms']);
  let sim: Vcsim;
  let t: TestEngine;
  let z: VmwareZone;
  let admin: VimClient;
  let images: VmwareEngineSuite['images'];

  /** Every VM (and template) vCenter holds, by name. */
  const vcenterVms = async () => {
    const objs = await retrieveInventory(admin, [{ type: 'VirtualMachine', pathSet: ['name', 'runtime.powerState', 'runtime.host', 'config.template', 'datastore'] }]);
    return new Map(objs.map((o) => [asString(o.props["name"])!, { ref: o.obj, power: asString(o.props['runtime.powerState']), host: asMoRef(o.props['runtime.host'])?.value, template: o.props['config.template'] === true, datastores: asArray(o.props['datastore']).map((d) => (d as MoRef).value) }]));
  };
  const vmOf = async (id: string): Promise<Vm> => ((await t.call('listVirtualMachines', { id })).body['virtualmachine'] as Vm[])[0]!;
  const hostRef = (kilnHostId: string) => t.engine.db.prepare('SELECT ref FROM hosts WHERE uuid=?').pluck().get(kilnHostId) as string;
  const jobTask = (jobid: string) => t.engine.db.prepare('SELECT hypervisor_task_ref FROM async_jobs WHERE uuid=?').pluck().get(jobid) as string | null;
  const runJob = async (command: string, params: Record<string, string>) => {
    const res = await t.call(command, params);
    if (typeof res.body['jobid'] !== 'string') return { job: res.body, status: res.status, jobid: '' };
    const job = await t.engine.jobs.wait(res.body['jobid']);
    return { job, status: res.status, jobid: res.body['jobid'] };
  };
  /** The engine's vCenter endpoint (its inventory cache), for waiting until its stream saw a change made outside Kiln. */
  const engineEndpoint = async () => {
    const hostId = t.engine.db.prepare(`SELECT id FROM hosts WHERE hypervisor='VMware' AND removed IS NULL LIMIT 1`).pluck().get() as number;
    return ((await t.engine.hosts.session(hostId)) as unknown as { view: { ep: VsphereEndpoint } }).view.ep;
  };
  // The engine's endpoint sees it through its change stream (the session's cache; no public read of Tools).
  const setTools = async (ref: string, running: boolean) => setToolsStatus(admin, await engineEndpoint(), ref, running ? 'guestToolsRunning' : 'guestToolsNotRunning');

  beforeAll(() => {
    ({ sim, t, z, admin, images } = suite);
  });

  let vm: Vm;

  it('deploy: the template is staged (flat VMDK on a datastore, a vSphere template), the VM is cloned under its internal name, Running, with the template\'s details', async () => {
    const { job } = await runJob('deployVirtualMachine', { zoneid: z.zoneid, templateid: z.templateid, serviceofferingid: z.offerings['Small Instance']!, networkids: z.networkid, name: 'vmw-one' });
    expect(job['jobstatus'], JSON.stringify(job['jobresult'])).toBe(1);
    vm = (job['jobresult'] as { virtualmachine: Vm }).virtualmachine;
    expect(vm).toMatchObject({ state: 'Running', instancename: expect.stringMatching(/^i-\d+-\d+-VM$/) });
    expect(vm.details).toMatchObject({ rootDiskController: 'pvscsi', nicAdapter: 'E1000' });
    const inVc = await vcenterVms();
    const template = [...inVc].find(([, v]) => v.template);
    expect(template?.[0]).toMatch(/^kiln-tmpl-[0-9a-f-]{36}\.img$/);
    const clone = inVc.get(vm.instancename)!;
    expect(clone).toMatchObject({ power: 'poweredOn', host: hostRef(vm.hostid!), template: false });
    // The clone has the template's controller and the VM's NIC type on the port group "VM Network".
    const devices = asArray((await getProperties(admin, clone.ref, ['config.hardware.device']))['config.hardware.device']).map(asObject);
    expect(devices.map((d) => d.$type)).toEqual(expect.arrayContaining(['ParaVirtualSCSIController', 'VirtualDisk', 'VirtualE1000']));
    expect(asString(asObject(devices.find((d) => d.$type === 'VirtualE1000')!['backing'])['deviceName'])).toBe('VM Network');
    // Its config drive (the L2 network's user-data provider) went onto the datastore and into the
    // second CD-ROM; the first (the ISO drive, for attachIso) is empty.
    const drives = devices.filter((d) => d.$type === 'VirtualCdrom').sort((a, b) => Number(a['controllerKey']) - Number(b['controllerKey']) || Number(a['unitNumber']) - Number(b['unitNumber']));
    expect(drives.map((d) => (asObject(d['backing']).$type === 'VirtualCdromIsoBackingInfo' ? asString(asObject(d['backing'])['fileName']) : undefined))).toEqual([undefined, expect.stringMatching(/^\[LocalDS_\d\] kiln-images\/kiln-cfg-.+\.iso$/)]);
    // The staged disk on the datastore is the image, byte for byte.
    const flat = await datastoreGet(sim, `kiln-images/${template![0].replace(/\.img$/, '')}-flat.vmdk`, admin);
    expect(createHash('sha256').update(flat).digest('hex')).toBe(createHash('sha256').update(RAW_IMAGE).digest('hex'));
  });


  it('listDetailOptions offers the VMware details from the driver', async () => {
    const opts = (await t.call('listDetailOptions', { resourcetype: 'UserVm', resourceid: vm.id })).body['detailoptions'] as { details: Record<string, string[]> };
    expect(opts.details['rootDiskController']).toEqual(expect.arrayContaining(['osdefault', 'lsilogic', 'pvscsi', 'sata']));
    expect(opts.details['dataDiskController']).toEqual(expect.arrayContaining(['lsilogic', 'pvscsi']));
    expect(opts.details['nicAdapter']).toEqual(['E1000', 'E1000e', 'PCNet32', 'Vmxnet2', 'Vmxnet3']);
  });

  it('stop: a guest shutdown through Tools within vm.stop.timeout, a power-off after it, and forced; start and reboot between; listVirtualMachines says each state', async () => {
    const ref = (await vcenterVms()).get(vm.instancename)!.ref.value;
    await setTools(ref, true);
    // Graceful: the guest powers off 1.5 s after ShutdownGuest, within vm.stop.timeout (10 s); no power-off task.
    await t.call('updateConfiguration', { name: 'vm.stop.timeout', value: '10' });
    let t0 = Date.now();
    let run = await runJob('stopVirtualMachine', { id: vm.id });
    expect(run.job['jobstatus'], JSON.stringify(run.job['jobresult'])).toBe(1);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(1400);
    expect(jobTask(run.jobid)).toBeNull();
    expect(await vmOf(vm.id)).toMatchObject({ state: 'Stopped' });
    expect((await vcenterVms()).get(vm.instancename)?.power).toBe('poweredOff');
    run = await runJob('startVirtualMachine', { id: vm.id });
    expect(run.job['jobstatus'], JSON.stringify(run.job['jobresult'])).toBe(1);
    expect(await vmOf(vm.id)).toMatchObject({ state: 'Running' });
    expect(String(jobTask(run.jobid)), 'run.jobid #1').toMatch(/^Task:/);
    // The guest is slower than vm.stop.timeout (1 s): powered off after it, by PowerOffVM_Task.
    await setTools(ref, true);
    await t.call('updateConfiguration', { name: 'vm.stop.timeout', value: '1' });
    t0 = Date.now();
    run = await runJob('stopVirtualMachine', { id: vm.id });
    expect(run.job['jobstatus'], JSON.stringify(run.job['jobresult'])).toBe(1);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(1000);
    expect(String(jobTask(run.jobid)), 'run.jobid #2').toMatch(/^Task:/);
    expect(await vmOf(vm.id)).toMatchObject({ state: 'Stopped' });
    expect((await runJob('startVirtualMachine', { id: vm.id })).job['jobstatus']).toBe(1);
    // Forced: no guest shutdown at all, even with Tools.
    await setTools(ref, true);
    await t.call('updateConfiguration', { name: 'vm.stop.timeout', value: '10' });
    t0 = Date.now();
    run = await runJob('stopVirtualMachine', { id: vm.id, forced: 'true' });
    expect(run.job['jobstatus'], JSON.stringify(run.job['jobresult'])).toBe(1);
    expect(Date.now() - t0).toBeLessThan(1400);
    expect(String(jobTask(run.jobid)), 'run.jobid #3').toMatch(/^Task:/);
    expect(await vmOf(vm.id)).toMatchObject({ state: 'Stopped' });
    expect((await vcenterVms()).get(vm.instancename)?.power).toBe('poweredOff');
    // Start, then reboot: RebootGuest with Tools (a new boot time, still Running).
    expect((await runJob('startVirtualMachine', { id: vm.id })).job['jobstatus']).toBe(1);
    await setTools(ref, true);
    const boot = async () => asString((await getProperties(admin, new MoRef('VirtualMachine', ref), ['runtime.bootTime']))['runtime.bootTime']);
    const before = await boot();
    run = await runJob('rebootVirtualMachine', { id: vm.id });
    expect(run.job['jobstatus'], JSON.stringify(run.job['jobresult'])).toBe(1);
    expect(await vmOf(vm.id)).toMatchObject({ state: 'Running' });
    expect(await boot()).not.toBe(before);
    expect((await vcenterVms()).get(vm.instancename)?.power).toBe('poweredOn');
  });

  it('scale of the running VM: refused without VMware Tools (VM unchanged), done with them', async () => {
    const ref = (await vcenterVms()).get(vm.instancename)!.ref.value;
    const hw = async () => getProperties(admin, new MoRef('VirtualMachine', ref), ['config.hardware.numCPU', 'config.hardware.memoryMB']);
    await t.call('updateConfiguration', { name: 'enable.dynamic.scale.vm', value: 'true', zoneid: z.zoneid });
    await setTools(ref, false);
    const refused = await runJob('scaleVirtualMachine', { id: vm.id, serviceofferingid: z.offerings['Medium Instance']! });
    expect(refused.job['jobstatus'], JSON.stringify(refused)).toBe(2);
    expect(String((refused.job['jobresult'] as { errortext: string }).errortext)).toMatch(/VMware Tools are not running/);
    expect(await vmOf(vm.id)).toMatchObject({ state: 'Running', memory: 512 });
    expect(await hw()).toMatchObject({ 'config.hardware.memoryMB': 512 });
    await setTools(ref, true);
    const done = await runJob('scaleVirtualMachine', { id: vm.id, serviceofferingid: z.offerings['Medium Instance']! });
    expect(done.job['jobstatus'], JSON.stringify(done.job['jobresult'])).toBe(1);
    expect(await vmOf(vm.id)).toMatchObject({ state: 'Running', memory: 1024 });
    expect(await hw()).toMatchObject({ 'config.hardware.memoryMB': 1024 });
    expect(String(jobTask(done.jobid)), 'done.jobid #4').toMatch(/^Task:/);
  });

  it('live migration to the other host, then with its root volume onto the second datastore (migrateVirtualMachineWithVolume)', async () => {
    const names = Object.keys(z.hosts).sort();
    const other = Object.values(z.hosts).find((h) => h !== vm.hostid)!;
    let run = await runJob('migrateVirtualMachine', { virtualmachineid: vm.id, hostid: other });
    expect(run.job['jobstatus'], JSON.stringify(run.job['jobresult'])).toBe(1);
    expect(await vmOf(vm.id)).toMatchObject({ state: 'Running', hostid: other });
    expect((await vcenterVms()).get(vm.instancename)).toMatchObject({ power: 'poweredOn', host: hostRef(other) });
    expect(String(jobTask(run.jobid)), 'run.jobid #5').toMatch(/^Task:/);
    const root = ((await t.call('listVolumes', { virtualmachineid: vm.id, type: 'ROOT' })).body['volume'] as { id: string }[])[0]!;
    const back = z.hosts[names[0]!] === other ? z.hosts[names[1]!]! : z.hosts[names[0]!]!;
    run = await runJob('migrateVirtualMachineWithVolume', { virtualmachineid: vm.id, hostid: back, 'migrateto[0].volume': root.id, 'migrateto[0].pool': 'LocalDS_1' });
    expect(run.job['jobstatus'], JSON.stringify(run.job['jobresult'])).toBe(1);
    expect(await vmOf(vm.id)).toMatchObject({ state: 'Running', hostid: back });
    const moved = (await vcenterVms()).get(vm.instancename)!;
    expect(moved).toMatchObject({ power: 'poweredOn', host: hostRef(back) });
    const dsNames = await Promise.all(moved.datastores.map(async (d) => asString((await getProperties(admin, new MoRef('Datastore', d), ['name']))['name'])));
    expect(dsNames).toContain('LocalDS_1');
    vm = await vmOf(vm.id);
  });

  it('a snapshot tree: two in a line, revert to the first, a branch from it, remove the first (its children move up); vCenter holds the same tree', async () => {
    const ref = (await vcenterVms()).get(vm.instancename)!.ref.value;
    const take = async (name: string) => {
      const r = await runJob('createVMSnapshot', { virtualmachineid: vm.id, name, snapshotmemory: 'true' });
      expect(r.job['jobstatus'], JSON.stringify(r.job['jobresult'])).toBe(1);
      return (r.job['jobresult'] as { vmsnapshot: { id: string } }).vmsnapshot.id;
    };
    const list = async () => (((await t.call('listVMSnapshot', { virtualmachineid: vm.id })).body['vmSnapshot'] ?? []) as { id: string; displayname: string; parentName?: string; current: boolean }[])
      .map((s) => [s.displayname, s.parentName ?? null, s.current]).sort();
    const tree = async () => {
      const info = asObject((await getProperties(admin, new MoRef('VirtualMachine', ref), ['snapshot']))['snapshot']);
      const out: [string, string | null][] = [];
      const walk = (nodes: unknown, parent: string | null) => {
        for (const n of asArray(nodes as never).map(asObject)) {
          out.push([asString(n['name'])!, parent]);
          walk(n['childSnapshotList'], asString(n['name'])!);
        }
      };
      walk(info['rootSnapshotList'], null);
      return out.sort();
    };
    const s1 = await take('first');
    await take('second');
    const revert = await runJob('revertToVMSnapshot', { vmsnapshotid: s1 });
    expect(revert.job['jobstatus'], JSON.stringify(revert.job['jobresult'])).toBe(1);
    expect(await vmOf(vm.id)).toMatchObject({ state: 'Running' });
    await take('branch');
    expect(await list()).toEqual([['branch', 'first', true], ['first', null, false], ['second', 'first', false]]);
    const names = Object.fromEntries(((await t.call('listVMSnapshot', { virtualmachineid: vm.id })).body['vmSnapshot'] as { id: string; displayname: string; name: string }[]).map((s) => [s.displayname, s.name]));
    expect(await tree()).toEqual([[names['branch'], names['first']], [names['first'], null], [names['second'], names['first']]].sort());
    const removed = await runJob('deleteVMSnapshot', { vmsnapshotid: s1 });
    expect(removed.job['jobstatus'], JSON.stringify(removed.job['jobresult'])).toBe(1);
    expect(await list()).toEqual([['branch', null, true], ['second', null, false]]);
    expect(await tree()).toEqual([[names['branch'], null], [names['second'], null]].sort());
  });

  it('destroy with expunge: gone from listVirtualMachines and from vCenter (its snapshots with it)', async () => {
    const run = await runJob('destroyVirtualMachine', { id: vm.id, expunge: 'true' });
    expect(run.job['jobstatus'], JSON.stringify(run.job['jobresult'])).toBe(1);
    expect((await t.call('listVirtualMachines', { id: vm.id })).body['virtualmachine']).toBeUndefined();
    const left = [...(await vcenterVms()).entries()].filter(([, v]) => !v.template);
    expect(left).toEqual([]);
  });

  it('deploy with a disk offering: the data disk is made on the clone (two disks in vCenter), its volume Ready; the vCenter name follows R3 with vm.instancename.flag; destroy with expunge removes VM and files', async () => {
    const small = ((await t.call('listDiskOfferings', { name: 'Small' })).body['diskoffering'] as { id: string; disksize: number }[])[0]!;
    await t.call('updateConfiguration', { name: 'vm.instancename.flag', value: 'true' });
    const { job } = await runJob('deployVirtualMachine', { zoneid: z.zoneid, templateid: z.templateid, serviceofferingid: z.offerings['Small Instance']!, networkids: z.networkid, name: 'vmw-data', displayname: 'Web <Server> 1', diskofferingid: small.id });
    await t.call('updateConfiguration', { name: 'vm.instancename.flag', value: 'false' });
    expect(job['jobstatus'], JSON.stringify(job['jobresult'])).toBe(1);
    const data = (job['jobresult'] as { virtualmachine: Vm }).virtualmachine;
    // R3: i-<user>-<vm>-<display name as a label>, and vCenter holds exactly that name.
    expect(data.instancename).toMatch(/^i-\d+-\d+-Web-Server-1$/);
    expect((await vcenterVms()).has(data.instancename)).toBe(true);
    const clone = (await vcenterVms()).get(data.instancename)!;
    const disks = asArray((await getProperties(admin, clone.ref, ['config.hardware.device']))['config.hardware.device']).map(asObject).filter((d) => d.$type === 'VirtualDisk');
    expect(disks.length).toBe(2);
    expect(disks.map((d) => Number(d['capacityInKB']))).toContain(small.disksize * 1024 * 1024);
    const volumes = (await t.call('listVolumes', { virtualmachineid: data.id })).body['volume'] as { type: string; state: string }[];
    expect(volumes.map((v) => [v.type, v.state]).sort()).toEqual([['DATADISK', 'Ready'], ['ROOT', 'Ready']]);
    const gone = await runJob('destroyVirtualMachine', { id: data.id, expunge: 'true' });
    expect(gone.job['jobstatus'], JSON.stringify(gone.job['jobresult'])).toBe(1);
    expect([...(await vcenterVms()).values()].filter((v) => !v.template)).toEqual([]);
  });

  it('deploy from an ISO: a blank VM (CreateVM_Task) with the disk offering\'s root disk, the ISO in its first CD-ROM and the config drive in its second; Running', async () => {
    const ostypeid = ((await t.call('listOsTypes', {})).body['ostype'] as { id: string }[])[0]!.id;
    const iso = ((await t.call('registerIso', { name: 'vmw-iso', url: images.isoUrl, zoneid: z.zoneid, ostypeid })).body['iso'] as { id: string }[])[0]!;
    for (let i = 0; i < 200 && !((await t.call('listIsos', { id: iso.id, isofilter: 'all' })).body['iso'] as { isready: boolean }[])[0]!.isready; i++) await new Promise((r) => setTimeout(r, 50));
    const small = ((await t.call('listDiskOfferings', { name: 'Small' })).body['diskoffering'] as { id: string; disksize: number }[])[0]!;
    const { job } = await runJob('deployVirtualMachine', { zoneid: z.zoneid, templateid: iso.id, serviceofferingid: z.offerings['Small Instance']!, networkids: z.networkid, name: 'vmw-iso', diskofferingid: small.id });
    expect(job['jobstatus'], JSON.stringify(job['jobresult'])).toBe(1);
    const fromIso = (job['jobresult'] as { virtualmachine: Vm }).virtualmachine;
    expect(fromIso.state).toBe('Running');
    const made = (await vcenterVms()).get(fromIso.instancename)!;
    expect(made.power).toBe('poweredOn');
    const devices = asArray((await getProperties(admin, made.ref, ['config.hardware.device']))['config.hardware.device']).map(asObject);
    const cds = devices.filter((d) => d.$type === 'VirtualCdrom').map((d) => asString(asObject(d['backing'])['fileName']));
    expect(cds).toEqual([expect.stringMatching(/^\[LocalDS_\d\] kiln-images\/kiln-iso-.+\.iso$/), expect.stringMatching(/^\[LocalDS_\d\] kiln-images\/.+\.iso$/)]);
    expect(devices.filter((d) => d.$type === 'VirtualDisk').map((d) => Number(d['capacityInKB']))).toEqual([small.disksize * 1024 * 1024]);
    // A stop and start redefines it: the CD-ROMs keep their order.
    await runJob('stopVirtualMachine', { id: fromIso.id, forced: 'true' });
    expect((await runJob('startVirtualMachine', { id: fromIso.id })).job['jobstatus']).toBe(1);
    const again = asArray((await getProperties(admin, made.ref, ['config.hardware.device']))['config.hardware.device']).map(asObject).filter((d) => d.$type === 'VirtualCdrom').map((d) => asString(asObject(d['backing'])['fileName']));
    expect(again).toEqual(cds);
    expect((await runJob('destroyVirtualMachine', { id: fromIso.id, expunge: 'true' })).job['jobstatus']).toBe(1);
  });

  it('a clone a dead process left (its deploy interrupted before the ref was stored) is removed when the VM starts again; a namesake without its uuid is not touched', async () => {
    const template = [...(await vcenterVms()).entries()].find(([, v]) => v.template)!;
    // The template's own folder (the datacenter's VM folder) takes the planted VMs.
    const folder = asMoRef((await getProperties(admin, template[1].ref, ['parent']))['parent'])!;
    const plant = async (name: string, uuid?: string) => {
      const pool = asMoRef((await getProperties(admin, new MoRef('HostSystem', hostRef(Object.values(z.hosts)[0]!)), ['parent']))['parent'])!;
      const rp = asMoRef((await getProperties(admin, pool, ['resourcePool']))['resourcePool'])!;
      const task = await vim.clone(admin, template[1].ref, { folder, name, location: { pool: rp }, config: uuid ? { extraConfig: [{ key: 'kiln.uuid', value: typed('xsd:string', uuid) }] } : undefined });
      // Started at once: Kiln's change stream may not have brought the VM yet, the server is asked.
      return asMoRef(await waitForTask(admin, task.ref))!.value;
    };
    const created = async (name: string) => {
      const { job } = await runJob('deployVirtualMachine', { zoneid: z.zoneid, templateid: z.templateid, serviceofferingid: z.offerings['Small Instance']!, networkids: z.networkid, name, startvm: 'false' });
      return (job['jobresult'] as { virtualmachine: Vm }).virtualmachine;
    };
    const redo = await created('vmw-redo');
    const leftover = await plant(redo.instancename, redo.id);
    const started = await runJob('startVirtualMachine', { id: redo.id });
    expect(started.job['jobstatus'], JSON.stringify(started.job['jobresult'])).toBe(1);
    const named = [...(await vcenterVms()).entries()].filter(([n]) => n === redo.instancename);
    expect(named.length).toBe(1);
    expect(named[0]![1].ref.value).not.toBe(leftover);
    const other = await created('vmw-namesake');
    const namesake = await plant(other.instancename);
    const refused = await runJob('startVirtualMachine', { id: other.id });
    expect(refused.job['jobstatus']).toBe(2);
    expect(String((refused.job['jobresult'] as { errortext: string }).errortext)).toContain('already exists in vCenter');
    expect((await vcenterVms()).get(other.instancename)?.ref.value).toBe(namesake);
    await waitForTask(admin, (await vim.destroy(admin, new MoRef('VirtualMachine', namesake))).ref);
    for (const id of [redo.id, other.id]) expect((await runJob('destroyVirtualMachine', { id, expunge: 'true' })).job['jobstatus']).toBe(1);
    expect([...(await vcenterVms()).values()].filter((v) => !v.template)).toEqual([]);
  });

  it('a deploy that fails in vCenter (the network has no port group there) leaves the VM in Error and nothing in vCenter; destroy with expunge then removes it', async () => {
    const net = ((await t.call('createNetwork', { name: 'No Such Portgroup', zoneid: z.zoneid, guestiptype: 'L2' })).body['network'] as { id: string }).id;
    const { job } = await runJob('deployVirtualMachine', { zoneid: z.zoneid, templateid: z.templateid, serviceofferingid: z.offerings['Small Instance']!, networkids: net, name: 'vmw-fails' });
    expect(job['jobstatus']).toBe(2);
    expect(String((job['jobresult'] as { errortext: string }).errortext)).toMatch(/no network named "No Such Portgroup" in vCenter/);
    const failed = ((await t.call('listVirtualMachines', { name: 'vmw-fails' })).body['virtualmachine'] as Vm[])[0]!;
    expect(failed.state).toBe('Error');
    expect([...(await vcenterVms()).values()].filter((v) => !v.template)).toEqual([]);
    const expunged = await runJob('destroyVirtualMachine', { id: failed.id, expunge: 'true' });
    expect(expunged.job['jobstatus'], JSON.stringify(expunged)).toBe(1);
    expect((await t.call('listVirtualMachines', { name: 'vmw-fails' })).body['virtualmachine']).toBeUndefined();
  });


  it('a changed vCenter certificate: the hosts are refused (Alert, the new thumbprint named) until an admin accepts it with acceptHostKey; then all of them are Up on the new pin', async () => {
    const old = sim.info.thumbprint;
    sim.rekeyInPlace();
    expect(sim.info.thumbprint).not.toBe(old);
    const rows = () => t.engine.db.prepare(`SELECT id, uuid, state, trust_fingerprint FROM hosts WHERE hypervisor='VMware' AND removed IS NULL ORDER BY name`).all() as { id: number; uuid: string; state: string; trust_fingerprint: string }[];
    // The background host check reconnects each host; each is refused by the pin.
    for (let i = 0; i < 100 && rows().some((r) => r.state === 'Up'); i++) await new Promise((r) => setTimeout(r, 50));
    for (const r of rows()) await expect(t.engine.hosts.session(r.id)).rejects.toThrow(/has changed/);
    const listed = (await t.call('listHosts', { clusterid: z.clusterid })).body['host'] as { id: string; state: string; hostkeyfingerprint: string; details?: { lasterror: string } }[];
    for (const h of listed) {
      expect(h).toMatchObject({ state: 'Alert', hostkeyfingerprint: old });
      expect(h.details?.lasterror).toContain(`the server presented ${sim.info.thumbprint}`);
    }
    // A deploy is refused while they are in Alert, writing nothing.
    const deploy = await t.call('deployVirtualMachine', { zoneid: z.zoneid, templateid: z.templateid, serviceofferingid: z.offerings['Small Instance']!, networkids: z.networkid, name: 'vmw-refused' });
    expect(deploy.status).toBe(533);
    // The wrong kind of fingerprint and a malformed one are 431s naming it.
    const ssh = await t.call('acceptHostKey', { id: listed[0]!.id, fingerprint: `SHA256:${'A'.repeat(43)}` });
    expect(ssh.status).toBe(431);
    expect(String(ssh.body['errortext'])).toMatch(/^fingerprint: host .* is trusted by its endpoint's TLS certificate/);
    expect((await t.call('acceptHostKey', { id: listed[0]!.id, fingerprint: 'AB:CD' })).status).toBe(431);
    expect(rows().every((r) => r.trust_fingerprint === old)).toBe(true);
    // The admin accepts the thumbprint the refusal named (lower case is fine).
    const accepted = await t.call('acceptHostKey', { id: listed[0]!.id, fingerprint: sim.info.thumbprint.toLowerCase() });
    expect(accepted.status, JSON.stringify(accepted.body)).toBe(200);
    expect(accepted.body['host']).toMatchObject({ state: 'Up', hostkeyfingerprint: sim.info.thumbprint });
    expect(rows().map((r) => [r.state, r.trust_fingerprint])).toEqual(rows().map(() => ['Up', sim.info.thumbprint]));
  }, 20_000);
});

