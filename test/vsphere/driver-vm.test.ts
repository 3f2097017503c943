/**
 * The vSphere driver's VM operations on vcsim, through the contract (HostSession and its facets),
 * each checked against what vcsim itself holds (read over a separate SOAP session): deploy from
 * a template (details inherited, R30) and blank with an ISO, the vCenter name of a hostile name,
 * start, stop (Tools shutdown, power-off after the timeout, forced, no Tools), reboot/reset,
 * scaling refused without Tools and done with them, migration within and across clusters and
 * with storage, a reattached task, a snapshot tree with revert and remove, the console facet with
 * and without tickets, and destroy.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DriverError, type Endpoint, type EndpointEvent, type HostSession, type VmSpec } from '../../drivers/types.js';
import { VsphereDriver } from '../../drivers/vsphere/index.js';
import { stopVm } from '../../drivers/vsphere/vm-lifecycle.js';
import type { VsphereEndpoint } from '../../drivers/vsphere/endpoint.js';
import {
  MoRef, asArray, asMoRef, getProperties, retrieveInventory, vm as vim, waitForTask, type VimClient,
} from '../../drivers/vsphere/soap/index.js';
import { Vcsim, vcsimOrSkip } from '../helpers/vcsim.js';
import { rejectionOf } from '../helpers/rejection.js';
import { recordEnvelopes } from '../helpers/soap-methods.js';
import { createVmWithDevices, defaultPlacement, setToolsStatus } from '../helpers/vcsim-fixtures.js';

const available = vcsimOrSkip();

const driverError = (p: Promise<unknown>) => rejectionOf(p, DriverError);

const HOSTILE = `i-2-7-a/b<c>&"d'%\\]]>`;

describe.skipIf(!available)('vSphere driver VM operations on vcsim', () => {
  let sim: Vcsim;
  let admin: VimClient;
  let driver: VsphereDriver;
  let ep: Endpoint;
  let c0: HostSession[];
  let c1: HostSession[];
  let template: MoRef;
  const events: EndpointEvent[] = [];
  const spec = (path: string) => ({
    hostId: 'h1', url: `https://${sim.info.host}:${sim.info.port}${path}`, username: sim.info.username, password: sim.info.password,
    pinnedTrust: { kind: 'tls-certificate' as const, fingerprint: sim.info.thumbprint },
  });
  const guest = (name: string, extra: Partial<VmSpec> = {}): VmSpec => ({
    internalName: name, displayName: name, uuid: '5a1b2c3d-0000-4000-8000-00000000000' + (name.length % 10), cpuNumber: 1, cpuSpeedMhz: 1000, memoryMiB: 128,
    maxCpuNumber: 2, maxMemoryMiB: 256,
    disks: [{ name: `${name}-root`, sizeBytes: 2 ** 30, device: 'disk', backingImage: 'kiln-template' }, { name: `${name}-data`, sizeBytes: 2 ** 30, device: 'disk' }],
    nics: [], ...extra,
  });
  const seen = async (ref: string, paths: string[]) => getProperties(admin, new MoRef('VirtualMachine', ref), paths);
  const setTools = (ref: string, status: 'guestToolsRunning' | 'guestToolsNotRunning') => setToolsStatus(admin, (ep as unknown as { ep: VsphereEndpoint }).ep, ref, status);

  beforeAll(async () => {
    sim = Vcsim.start(['-cluster', '2', '-host', '2', '-standalone-host', '0', '-vm', '1', '-ds', '2', '-shutdown-time', '150ms', '-task-time', '400ms']);
    admin = await sim.connect();
    // The template: PVSCSI for both disks, a VMXNET3 NIC first (what a deploy must inherit, R30).
    const where = await defaultPlacement(admin);
    const src = await createVmWithDevices(admin, where, { name: 'template-src', disksGiB: [1, 2], nics: ['PG-VLAN101', 'PG-VLAN102'] });
    template = asMoRef(await waitForTask(admin, (await vim.clone(admin, src, { folder: where.folder, name: 'kiln-template', location: { pool: where.pool }, template: true })).ref))!;
    driver = new VsphereDriver({ maxWaitSeconds: 2 });
    ep = await driver.connect(spec('/DC0'));
    ep.onEvent((e) => events.push(e));
    const hosts = await ep.hosts();
    c0 = hosts.filter((h) => h.cluster === 'DC0_C0').map((h) => ep.host(h.ref));
    c1 = hosts.filter((h) => h.cluster === 'DC0_C1').map((h) => ep.host(h.ref));
  });
  afterAll(async () => {
    await ep?.close();
    admin?.close();
    sim?.stop();
  });

  let vmRef: string;

  it('deploys from a template by name: the vCenter name is the escaped internal name, size and host as asked, details inherited (R30)', async () => {
    const tasks: string[] = [];
    const { sent, stop } = recordEnvelopes(ep);
    let res;
    try {
      res = await c0[1]!.define(guest(HOSTILE), { onTask: (t) => tasks.push(t) });
    } finally {
      stop();
    }
    // The name reached SOAP as escaped text only: no raw markup of it in any envelope.
    const clone = sent.find((e) => e.includes('<CloneVM_Task'))!;
    expect(clone).toContain('<name>i-2-7-a%2fb&lt;c&gt;&amp;');
    expect(sent.some((e) => e.includes('<c>') || e.includes(']]>'))).toBe(false);
    vmRef = res.ref;
    expect(tasks[0]).toMatch(/^Task:/);
    expect(res.taskRef).toBe(tasks[0]);
    const props = await seen(vmRef, ['name', 'config.hardware.numCPU', 'config.hardware.memoryMB', 'runtime.host', 'config.cpuHotAddEnabled', 'config.memoryHotAddEnabled', 'runtime.powerState']);
    // '/', '%' and '\' as vCenter stores them; the markup reached vcsim as text (escaped in the envelope).
    expect(props['name']).toBe(`i-2-7-a%2fb<c>&"d'%25%5c]]>`);
    expect(props['config.hardware.numCPU']).toBe(1);
    expect(props['config.hardware.memoryMB']).toBe(128);
    expect(props['config.cpuHotAddEnabled']).toBe(true);
    expect(props['config.memoryHotAddEnabled']).toBe(true);
    expect(asMoRef(props['runtime.host'])?.value).toBe(c0[1]!.ref);
    expect(props['runtime.powerState']).toBe('poweredOff');
    expect(res.disks?.map((d) => d.name)).toEqual([`${HOSTILE}-root`, `${HOSTILE}-data`]);
    const listed = (await c0[1]!.listInstances()).find((v) => v.ref === vmRef);
    expect(listed?.name).toBe(HOSTILE);
    // Templates are not instances of a host.
    expect((await Promise.all([...c0, ...c1].map((h) => h.listInstances()))).flat().some((v) => v.ref === template.value)).toBe(false);
    const details = await (c0[1] as unknown as { details(ref: string): Promise<object> }).details(vmRef);
    expect(details).toEqual({ rootDiskController: 'pvscsi', dataDiskController: 'pvscsi', nicAdapter: 'Vmxnet3' });
  });

  it('a second VM of the same name is refused before anything is sent; an unknown template is not-found', async () => {
    // Another VM (its own uuid) of the same name; one with this VM's uuid would be this VM's interrupted deploy.
    const dup = await driverError(c0[0]!.define(guest(HOSTILE, { uuid: '5a1b2c3d-0000-4000-8000-0000000000ff' })));
    expect(dup.category).toBe('invalid');
    expect(dup.message).toContain('already exists');
    const nf = await driverError(c0[0]!.define(guest('i-2-8-x', { disks: [{ name: 'r', sizeBytes: 1, device: 'disk', backingImage: 'no-such-template' }] })));
    expect(nf.category).toBe('not-found');
    expect((await retrieveInventory(admin, [{ type: 'VirtualMachine', pathSet: ['name'] }])).some((v) => v.props['name'] === 'i-2-8-x')).toBe(false);
  });

  it('a blank VM with an ISO gets the controller and NIC asked for', async () => {
    const res = await c0[0]!.define(guest('i-2-9-blank', {
      disks: [{ name: 'b-root', sizeBytes: 4 * 2 ** 30, device: 'disk' }], isoPath: '[LocalDS_0] iso/install.iso',
      nics: [{ macAddress: '', network: 'PG-VLAN101' }], details: { rootDiskController: 'lsisas1068', nicAdapter: 'E1000' },
    }));
    const details = await (c0[0] as unknown as { details(ref: string): Promise<object> }).details(res.ref);
    expect(details).toEqual({ rootDiskController: 'lsisas1068', dataDiskController: 'lsisas1068', nicAdapter: 'E1000' });
    const dev = asArray((await seen(res.ref, ['config.hardware.device']))['config.hardware.device']) as Array<{ $type?: string; backing?: { fileName?: string } }>;
    expect(dev.find((d) => d.$type === 'VirtualCdrom')?.backing?.fileName).toBe('[LocalDS_0] iso/install.iso');
    await c0[0]!.destroy(res.ref);
    expect((await retrieveInventory(admin, [{ type: 'VirtualMachine', pathSet: ['name'] }])).some((v) => v.props['name'] === 'i-2-9-blank')).toBe(false);
  });

  it('start, then stop: a Tools shutdown (no task), forced (PowerOffVM_Task), power-off after the timeout, and without Tools', async () => {
    const s = c0[1]!;
    const started = await s.start(vmRef);
    expect(started).toMatchObject({ taskRef: expect.stringMatching(/^Task:/) });
    expect((await seen(vmRef, ['runtime.powerState']))['runtime.powerState']).toBe('poweredOn');
    expect(await s.powerState(vmRef)).toBe('Running');
    expect(events.some((e) => e.kind === 'power' && e.vmRef === vmRef && e.state === 'Running' && e.initiator === 'user')).toBe(true);

    await setTools(vmRef, 'guestToolsRunning');
    const graceful = await s.stop(vmRef, { timeoutMs: 5000 });
    expect(graceful).toBeUndefined(); // ShutdownGuest is no task: the guest powered itself off
    expect((await seen(vmRef, ['runtime.powerState']))['runtime.powerState']).toBe('poweredOff');

    await s.start(vmRef);
    const forced = await s.stop(vmRef, { forced: true, timeoutMs: 5000 });
    expect(forced).toMatchObject({ taskRef: expect.stringMatching(/^Task:/) });
    expect((await seen(vmRef, ['runtime.powerState']))['runtime.powerState']).toBe('poweredOff');

    const inner = (ep as unknown as { ep: VsphereEndpoint }).ep;
    await s.start(vmRef);
    // The guest takes 150 ms; 20 ms is too little, so the driver powers it off (R8).
    expect(await stopVm(inner, new MoRef('VirtualMachine', vmRef), { timeoutMs: 20 })).toBe('powered-off-after-timeout');
    expect((await seen(vmRef, ['runtime.powerState']))['runtime.powerState']).toBe('poweredOff');
    await new Promise((r) => setTimeout(r, 300)); // the guest's own shutdown, still pending in vcsim, lands on a VM already off

    await s.start(vmRef);
    await setTools(vmRef, 'guestToolsNotRunning');
    expect(await stopVm(inner, new MoRef('VirtualMachine', vmRef), { timeoutMs: 5000 })).toBe('powered-off-no-tools');
    expect(await stopVm(inner, new MoRef('VirtualMachine', vmRef), { timeoutMs: 5000 })).toBe('already-off');
  });

  it('reboot: RebootGuest with Tools (new boot time, still on), ResetVM_Task without', async () => {
    const s = c0[1]!;
    await s.start(vmRef);
    await setTools(vmRef, 'guestToolsRunning');
    const boot0 = (await seen(vmRef, ['runtime.bootTime']))['runtime.bootTime'];
    await new Promise((r) => setTimeout(r, 1100));
    expect(await s.reboot(vmRef)).toBeUndefined();
    const after = await seen(vmRef, ['runtime.bootTime', 'runtime.powerState']);
    expect(after['runtime.powerState']).toBe('poweredOn');
    expect(after['runtime.bootTime']).not.toEqual(boot0);
    await setTools(vmRef, 'guestToolsNotRunning');
    expect(await s.reboot(vmRef)).toMatchObject({ taskRef: expect.stringMatching(/^Task:/) });
    expect((await seen(vmRef, ['runtime.powerState']))['runtime.powerState']).toBe('poweredOn');
  });

  it('live scaling is refused without VMware Tools (VM untouched) and done with them', async () => {
    const s = c0[1]!;
    const refused = await driverError(s.scale(vmRef, { cpuNumber: 2, memoryMiB: 256 }, true));
    expect(refused.category).toBe('unsupported');
    expect(refused.message).toContain('VMware Tools are not running');
    expect(await seen(vmRef, ['config.hardware.numCPU', 'config.hardware.memoryMB'])).toEqual({ 'config.hardware.numCPU': 1, 'config.hardware.memoryMB': 128 });
    await setTools(vmRef, 'guestToolsRunning');
    const shrink = await driverError(s.scale(vmRef, { memoryMiB: 64 }, true));
    expect(shrink.message).toContain('cannot remove memory');
    await s.scale(vmRef, { cpuNumber: 2, memoryMiB: 256 }, true);
    expect(await seen(vmRef, ['config.hardware.numCPU', 'config.hardware.memoryMB', 'runtime.powerState'])).toEqual({ 'config.hardware.numCPU': 2, 'config.hardware.memoryMB': 256, 'runtime.powerState': 'poweredOn' });
  });

  it('two-phase migration: to another host (progress, task ref), across clusters (its pool), and with storage', async () => {
    const req = (volumePools?: Record<string, string>) => ({ vm: vmRef, spec: guest(HOSTILE), live: true, volumePools });
    const progress: number[] = [];
    const ticket = await c0[0]!.migration!.prepare(req());
    const res = await c0[1]!.migration!.perform(req(), ticket, { onProgress: (p) => progress.push(p) });
    expect(res).toMatchObject({ taskRef: expect.stringMatching(/^Task:/) });
    expect(progress.at(-1)).toBe(100);
    expect(progress.length).toBeGreaterThan(2);
    expect(asMoRef((await seen(vmRef, ['runtime.host']))['runtime.host'])?.value).toBe(c0[0]!.ref);
    expect(events.some((e) => e.kind === 'power' && e.vmRef === vmRef && e.reason === 'migrated' && e.hostRef === c0[0]!.ref && e.initiator === 'user')).toBe(true);

    const cross = await c1[0]!.migration!.prepare(req());
    expect(cross.data['crossCluster']).toBe('true');
    await c0[0]!.migration!.perform(req(), cross);
    const moved = await seen(vmRef, ['runtime.host', 'resourcePool']);
    expect(asMoRef(moved['runtime.host'])?.value).toBe(c1[0]!.ref);
    const c1Pool = (await retrieveInventory(admin, [{ type: 'ClusterComputeResource', pathSet: ['name', 'resourcePool'] }])).find((c) => c.props['name'] === 'DC0_C1')!.props['resourcePool'];
    expect(moved['resourcePool']).toEqual(c1Pool);

    // migrateVirtualMachineWithVolume: the root disk onto LocalDS_1 (by name; a datastore ref works too).
    const noSuch = await driverError(c1[1]!.migration!.prepare(req({ [`${HOSTILE}-root`]: 'NoSuchDS' })));
    expect(noSuch.category).toBe('not-found');
    const withStorage = await c1[1]!.migration!.prepare(req({ [`${HOSTILE}-root`]: 'LocalDS_1' }));
    await c1[0]!.migration!.perform(req(), withStorage);
    const relocated = await seen(vmRef, ['runtime.host', 'datastore']);
    expect(asMoRef(relocated['runtime.host'])?.value).toBe(c1[1]!.ref);
    const ds1 = (await retrieveInventory(admin, [{ type: 'Datastore', pathSet: ['name'] }])).find((d) => d.props['name'] === 'LocalDS_1')!.obj;
    expect(asArray(relocated['datastore'])).toEqual([ds1]);
  });

  it('a migration task left by a lost session is reattached by ref from another connection and finished', async () => {
    const other = new VsphereDriver();
    const ep2 = await other.connect(spec('/DC0'));
    try {
      const abandoned = new AbortController();
      let taskRef: string | undefined;
      const ticket = await c1[0]!.migration!.prepare({ vm: vmRef, spec: guest(HOSTILE), live: true });
      // Start, keep the ref (as the engine stores it), and stop waiting without cancelling: a killed engine.
      const running = c1[1]!.migration!.perform({ vm: vmRef, spec: guest(HOSTILE), live: true }, ticket, { onTask: (t) => { taskRef = t; } }).catch((e: unknown) => e);
      void abandoned;
      while (!taskRef) await new Promise((r) => setTimeout(r, 10));
      const outcome = await ep2.reattachTask!(taskRef);
      expect(outcome.state).toBe('success');
      await running;
      expect(asMoRef((await seen(vmRef, ['runtime.host']))['runtime.host'])?.value).toBe(c1[0]!.ref);
      expect((await ep2.reattachTask!('Task:task-does-not-exist')).state).toBe('error');
    } finally {
      await ep2.close();
    }
  });

  it('snapshots: a tree with memory and quiesce, hostile names kept, revert and remove (children move up)', async () => {
    const s = c1[0]!;
    const snaps = s.snapshots!;
    const a = await snaps.create(vmRef, { name: 'base <&> "1"', withMemory: true, quiesce: true, description: 'first & only' });
    // The child is taken of the stopped VM, so it returns the VM powered off whatever withMemory says.
    await s.stop(vmRef, { forced: true });
    const b = await snaps.create(vmRef, { name: 'child', withMemory: true });
    let tree = await snaps.list(vmRef);
    expect(tree.map((t) => [t.name, t.parent, t.current, t.withMemory])).toEqual([
      ['base <&> "1"', undefined, false, true],
      ['child', a.ref, true, false],
    ]);
    expect(tree[0]!.description).toBe('first & only');
    await snaps.revert(vmRef, a.ref);
    tree = await snaps.list(vmRef);
    expect(tree.find((t) => t.current)?.ref).toBe(a.ref);
    // A snapshot with memory of a running VM brings it back running, as on vCenter.
    expect(await s.powerState(vmRef)).toBe('Running');
    await s.stop(vmRef, { forced: true });
    await snaps.remove(vmRef, a.ref);
    tree = await snaps.list(vmRef);
    expect(tree.map((t) => [t.ref, t.parent])).toEqual([[b.ref, undefined]]);
    const nf = await driverError(snaps.revert(vmRef, 'snapshot-404'));
    expect(nf.category).toBe('not-found');
    await setTools(vmRef, 'guestToolsNotRunning');
    const q = await driverError(snaps.create(vmRef, { name: 'q', withMemory: false, quiesce: true }));
    expect(q.message).toContain('needs VMware Tools');
  });

  it('console: a webmks ticket for a running VM; a server without tickets has no console facet, with the reason', async () => {
    const s = c1[0]!;
    expect(s.console?.graphical?.protocol).toBe('webmks');
    const off = await driverError(s.console!.graphical!.open(vmRef));
    expect(off.category).toBe('invalid');
    expect(off.message).toContain('InvalidPowerState');
    await s.start(vmRef);
    const con = await s.console!.graphical!.open(vmRef);
    expect(con.url).toMatch(/^wss:\/\/127\.0\.0\.1:\d+\/ticket\//);
    const bare = Vcsim.start(['-cluster', '1', '-host', '1', '-vm', '1', '-standalone-host', '0', '-tickets=false']);
    try {
      const d = new VsphereDriver();
      const e2 = await d.connect({ hostId: 'x', url: `https://${bare.info.host}:${bare.info.port}/DC0/DC0_C0`, username: bare.info.username, password: bare.info.password, pinnedTrust: { kind: 'tls-certificate', fingerprint: bare.info.thumbprint } });
      const [h] = await e2.hosts();
      const session = e2.host(h!.ref);
      expect(session.console).toBeUndefined();
      expect((session as unknown as { consoleUnavailableReason?: string }).consoleUnavailableReason).toMatch(/does not hand out console tickets/);
      await e2.close();
    } finally {
      bare.stop();
    }
  });

  it('destroy: powered off and gone from vcsim; operations on it after, destroy too, are not-found', async () => {
    const s = c1[0]!;
    await s.destroy(vmRef);
    expect((await retrieveInventory(admin, [{ type: 'VirtualMachine', pathSet: ['name'] }])).some((v) => v.obj.value === vmRef)).toBe(false);
    expect(await s.powerState(vmRef)).toBe('Missing');
    expect((await driverError(s.destroy(vmRef))).category).toBe('not-found');
    expect((await driverError(s.start(vmRef))).category).toBe('not-found');
    expect(events.some((e) => e.kind === 'power' && e.vmRef === vmRef && e.reason === 'destroyed' && e.initiator === 'user')).toBe(true);
  });
});
