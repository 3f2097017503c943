/**
 * Tasks and the methods Kiln's vcsim main adds, against vcsim: PowerOffVM_Task and CloneVM_Task
 * waited through the PropertyCollector, MigrateVM_Task with progress (within and across clusters),
 * its faults, cancelling it through an AbortSignal, RebootGuest and ShutdownGuest needing Tools.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  MoRef, VimFault, asArray, asMoRef, asObject, getProperties, reattachTask, retrieveInventory, typed, vm, waitForTask, type ObjectProps, type VimClient,
} from '../../drivers/vsphere/soap/index.js';
import { Vcsim, vcsimOrSkip } from '../helpers/vcsim.js';
import { rejectionOf } from '../helpers/rejection.js';

const available = vcsimOrSkip();

const fault = (p: Promise<unknown>) => rejectionOf(p, VimFault);

describe.skipIf(!available)('vSphere tasks on vcsim', () => {
  let sim: Vcsim;
  let client: VimClient;
  let vms: ObjectProps[];
  let clusters: ObjectProps[];
  const run = async (method: string, self: MoRef, args = {}, opts: Parameters<typeof waitForTask>[2] = {}) => waitForTask(client, asMoRef(await client.call(method, self, args))!, opts);
  const setTools = (vm: MoRef, status: string) =>
    run('ReconfigVM_Task', vm, { spec: { extraConfig: [{ key: 'SET.guest.toolsRunningStatus', value: typed('xsd:string', status) }] } });

  beforeAll(async () => {
    sim = Vcsim.start(['-cluster', '2', '-host', '2', '-standalone-host', '0', '-vm', '2', '-task-time', '500ms']);
    client = await sim.connect();
    const inv = await retrieveInventory(client, [
      { type: 'VirtualMachine', pathSet: ['name', 'runtime.host', 'resourcePool'] },
      { type: 'ClusterComputeResource', pathSet: ['name', 'host', 'resourcePool'] },
    ]);
    vms = inv.filter((o) => o.obj.type === 'VirtualMachine').sort((a, b) => String(a.props['name']).localeCompare(String(b.props['name'])));
    clusters = inv.filter((o) => o.obj.type === 'ClusterComputeResource').sort((a, b) => String(a.props['name']).localeCompare(String(b.props['name'])));
  });
  afterAll(() => {
    client?.close();
    sim?.stop();
  });

  const vmNamed = (name: string) => vms.find((v) => v.props['name'] === name)!.obj;
  const clusterHosts = (i: number) => asArray(clusters[i]!.props['host']) as MoRef[];
  const clusterPool = (i: number) => asMoRef(clusters[i]!.props['resourcePool'])!;

  it('PowerOffVM_Task and CloneVM_Task: waited for, with their result and faults', async () => {
    const vm = vmNamed('DC0_C0_RP0_VM0');
    expect(await run('PowerOffVM_Task', vm)).toBeUndefined();
    expect((await getProperties(client, vm, ['runtime.powerState']))['runtime.powerState']).toBe('poweredOff');
    const again = await fault(run('PowerOffVM_Task', vm));
    expect(again.type).toBe('InvalidPowerState');
    expect(again.detail['existingState']).toBe('poweredOff');

    const folder = asMoRef((await retrieveInventory(client, [{ type: 'Datacenter', pathSet: ['vmFolder'] }]))[0]!.props['vmFolder'])!;
    const clone = asMoRef(await run('CloneVM_Task', vm, { folder, name: 'clone-1', spec: { location: {}, powerOn: false, template: false } }));
    expect(clone?.type).toBe('VirtualMachine');
    const props = await getProperties(client, clone!, ['name', 'runtime.powerState']);
    expect(props).toEqual({ name: 'clone-1', 'runtime.powerState': 'poweredOff' });

    await run('PowerOnVM_Task', vm);
  });

  it('MigrateVM_Task runs as a task with progress and moves the VM to the host (same cluster: pool unchanged)', async () => {
    const vm = vmNamed('DC0_C0_RP0_VM1');
    const from = asMoRef((await getProperties(client, vm, ['runtime.host']))['runtime.host'])!;
    const to = clusterHosts(0).find((h) => !h.equals(from))!;
    const progress: number[] = [];
    await run('MigrateVM_Task', vm, { host: to, priority: 'defaultPriority' }, { onProgress: (p) => progress.push(p) });
    expect(progress.length).toBeGreaterThanOrEqual(3);
    expect(progress).toEqual([...progress].sort((a, b) => a - b));
    expect(progress.at(-1)).toBe(100);
    const after = await getProperties(client, vm, ['runtime.host', 'resourcePool']);
    expect(after['runtime.host']).toEqual(to);
    expect(after['resourcePool']).toEqual(clusterPool(0));
    const hostVms = await getProperties(client, to, ['vm']);
    expect((asArray(hostVms['vm']) as MoRef[]).some((r) => r.equals(vm))).toBe(true);
    const oldVms = await getProperties(client, from, ['vm']);
    expect((asArray(oldVms['vm']) as MoRef[]).some((r) => r.equals(vm))).toBe(false);
  });

  it('MigrateVM_Task across clusters needs the target pool, as vCenter does', async () => {
    const vm = vmNamed('DC0_C0_RP0_VM0');
    const to = clusterHosts(1)[0]!;
    const noPool = await fault(client.call('MigrateVM_Task', vm, { host: to, priority: 'defaultPriority' }));
    expect(noPool.type).toBe('InvalidArgument');
    expect(noPool.detail['invalidProperty']).toBe('pool');
    await run('MigrateVM_Task', vm, { pool: clusterPool(1), host: to, priority: 'defaultPriority' });
    const after = await getProperties(client, vm, ['runtime.host', 'resourcePool']);
    expect(after['runtime.host']).toEqual(to);
    expect(after['resourcePool']).toEqual(clusterPool(1));
    // Only the pool: the cluster picks the host.
    await run('MigrateVM_Task', vm, { pool: clusterPool(0), priority: 'defaultPriority' });
    const back = await getProperties(client, vm, ['runtime.host']);
    expect(clusterHosts(0).some((h) => h.equals(asMoRef(back['runtime.host'])))).toBe(true);
  });

  it('MigrateVM_Task with a state the VM is not in fails in the task with InvalidPowerState; unknown hosts fail the call', async () => {
    const vm = vmNamed('DC0_C1_RP0_VM0');
    const before = await getProperties(client, vm, ['runtime.host']);
    const to = clusterHosts(1).find((h) => !h.equals(asMoRef(before['runtime.host'])))!;
    const f = await fault(run('MigrateVM_Task', vm, { host: to, priority: 'defaultPriority', state: 'poweredOff' }));
    expect(f.type).toBe('InvalidPowerState');
    expect(f.method).toBe('MigrateVM_Task');
    expect((await getProperties(client, vm, ['runtime.host']))['runtime.host']).toEqual(before['runtime.host']);
    const nf = await fault(client.call('MigrateVM_Task', vm, { host: new MoRef('HostSystem', 'host-404'), priority: 'defaultPriority' }));
    expect(nf.type).toBe('ManagedObjectNotFound');
  });

  it('an aborted wait cancels the task on the server: RequestCanceled, and the VM stays where it was', async () => {
    const vm = vmNamed('DC0_C1_RP0_VM1');
    const before = await getProperties(client, vm, ['runtime.host']);
    const to = clusterHosts(1).find((h) => !h.equals(asMoRef(before['runtime.host'])))!;
    const abort = new AbortController();
    const f = await fault(run('MigrateVM_Task', vm, { host: to, priority: 'defaultPriority' }, { signal: abort.signal, onProgress: (p) => p > 0 && abort.abort() }));
    expect(f.type).toBe('RequestCanceled');
    expect((await getProperties(client, vm, ['runtime.host']))['runtime.host']).toEqual(before['runtime.host']);
    // Cancelling a finished task is InvalidState, as on vCenter.
    const done = asMoRef(await client.call('PowerOffVM_Task', vm))!;
    await waitForTask(client, done);
    expect((await fault(client.call('CancelTask', done))).type).toBe('InvalidState');
    await run('PowerOnVM_Task', vm);
  });

  it('RebootGuest needs VMware Tools running and a powered-on VM; it restarts the guest without a power change', async () => {
    const vm = vmNamed('DC0_C1_RP0_VM0');
    expect((await fault(client.call('RebootGuest', vm))).type).toBe('ToolsUnavailable');
    await setTools(vm, 'guestToolsRunning');
    const before = await getProperties(client, vm, ['summary.runtime.bootTime', 'runtime.bootTime', 'runtime.powerState']);
    await new Promise((r) => setTimeout(r, 20));
    expect(await client.call('RebootGuest', vm)).toBeUndefined();
    const after = await getProperties(client, vm, ['summary.runtime.bootTime', 'runtime.bootTime', 'runtime.powerState']);
    expect(after['runtime.powerState']).toBe('poweredOn');
    expect(Date.parse(String(after['runtime.bootTime']))).toBeGreaterThan(Date.parse(String(before['summary.runtime.bootTime'])));
    await run('PowerOffVM_Task', vm);
    const off = await fault(client.call('RebootGuest', vm));
    expect(off.type).toBe('InvalidPowerState');
    await run('PowerOnVM_Task', vm);
  });

  it('AcquireTicket gives a webmks ticket with its wss URL for a powered-on VM; a server without tickets says MethodNotFound', async () => {
    const vm = vmNamed('DC0_C1_RP0_VM1');
    const ticket = asObject(await client.call('AcquireTicket', vm, { ticketType: 'webmks' }, { returnType: 'VirtualMachineTicket' }));
    expect(ticket['url']).toMatch(new RegExp(`^wss://127\\.0\\.0\\.1:${sim.info.port}/ticket/[0-9a-f]{32}$`));
    expect(String(ticket['url']).endsWith(String(ticket['ticket']))).toBe(true);
    expect(ticket['sslThumbprint']).toMatch(/^([0-9A-F]{2}:){19}[0-9A-F]{2}$/);
    const mks = asObject(await client.call('AcquireMksTicket', vm, {}, { returnType: 'VirtualMachineMksTicket' }));
    expect(mks['port']).toBe(902);
    expect(ticket['port']).toBe(sim.info.port);
    expect((await fault(client.call('AcquireTicket', vm, { ticketType: 'bogus' }))).type).toBe('InvalidArgument');
    await run('PowerOffVM_Task', vm);
    expect((await fault(client.call('AcquireTicket', vm, { ticketType: 'webmks' }))).type).toBe('InvalidPowerState');
    await run('PowerOnVM_Task', vm);

    const bare = Vcsim.start(['-cluster', '1', '-host', '1', '-vm', '1', '-standalone-host', '0', '-tickets=false']);
    const other = await bare.connect();
    try {
      const [one] = await retrieveInventory(other, [{ type: 'VirtualMachine', pathSet: ['name'] }]);
      const none = await fault(other.call('AcquireTicket', one!.obj, { ticketType: 'webmks' }));
      expect(none.type).toBe('MethodNotFound');
    } finally {
      other.close();
      bare.stop();
    }
  });

  it('a task started by one client is reattached by its stored reference from a new session and finished there', async () => {
    const vmRef = vmNamed('DC0_C0_RP0_VM0');
    const from = asMoRef((await getProperties(client, vmRef, ['runtime.host']))['runtime.host'])!;
    const pool = asMoRef((await getProperties(client, vmRef, ['resourcePool']))['resourcePool'])!;
    const owner = clusters.findIndex((c) => asMoRef(c.props['resourcePool'])!.equals(pool));
    const to = clusterHosts(owner).find((h) => !h.equals(from))!;
    const first = await sim.connect();
    const started = await vm.migrate(first, vmRef, { host: to });
    const stored = started.ref.value; // what the engine keeps in its job row
    first.close(); // the engine goes away (kill -9) with the task running
    const again = await sim.connect();
    try {
      const progress: number[] = [];
      await reattachTask(again, stored).wait({ onProgress: (p) => progress.push(p) });
      expect(progress.at(-1)).toBe(100);
      expect((await getProperties(again, vmRef, ['runtime.host']))['runtime.host']).toEqual(to);
    } finally {
      again.close();
    }
  });

  it('snapshots through the typed methods: a tree with its current snapshot, revert, remove with children', async () => {
    const vmRef = vmNamed('DC0_C1_RP0_VM0');
    const s1 = asMoRef(await (await vm.createSnapshot(client, vmRef, { name: 'base <1>', memory: true, quiesce: false })).wait())!;
    const s2 = asMoRef(await (await vm.createSnapshot(client, vmRef, { name: 'child & 2', description: 'after "base"', memory: false, quiesce: true })).wait())!;
    let info = asObject((await getProperties(client, vmRef, ['snapshot']))['snapshot']);
    const roots = asArray(info['rootSnapshotList']).map(asObject);
    expect(roots.map((r) => r['name'])).toEqual(['base <1>']);
    const children = asArray(roots[0]!['childSnapshotList']).map(asObject);
    expect(children.map((c) => [c['name'], c['description'], c['quiesced']])).toEqual([['child & 2', 'after "base"', true]]);
    expect(info['currentSnapshot']).toEqual(s2);
    await (await vm.revertToSnapshot(client, s1)).wait();
    info = asObject((await getProperties(client, vmRef, ['snapshot']))['snapshot']);
    expect(info['currentSnapshot']).toEqual(s1);
    await (await vm.removeSnapshot(client, s1, true)).wait();
    expect((await getProperties(client, vmRef, ['snapshot']))['snapshot']).toBeUndefined();
  });

  it('ShutdownGuest needs Tools, returns at once, and the guest powers off shortly after', async () => {
    const vm = vmNamed('DC0_C0_RP0_VM1');
    expect((await fault(client.call('ShutdownGuest', vm))).type).toBe('ToolsUnavailable');
    await setTools(vm, 'guestToolsRunning');
    await client.call('ShutdownGuest', vm);
    expect((await getProperties(client, vm, ['runtime.powerState']))['runtime.powerState']).toBe('poweredOn');
    let state: unknown;
    for (let i = 0; i < 50 && state !== 'poweredOff'; i++) {
      await new Promise((r) => setTimeout(r, 50));
      state = (await getProperties(client, vm, ['runtime.powerState']))['runtime.powerState'];
    }
    expect(state).toBe('poweredOff');
  });
});
