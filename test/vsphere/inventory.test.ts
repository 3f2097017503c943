/**
 * Inventory through the PropertyCollector on vcsim: one bulk read of datacenters, clusters,
 * hosts and VMs (paged: the page size is set small so ContinueRetrievePropertiesEx is needed),
 * the VLAN portgroups the harness adds, and WaitForUpdatesEx seeing a change another session made.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  MoRef, UpdateWatcher, asArray, asMoRef, asNumber, asObject, waitForTask, retrieveInventory, retrieveProperties, getProperties, type ObjectUpdate, type VimClient,
} from '../../drivers/vsphere/soap/index.js';
import { Vcsim, vcsimOrSkip } from '../helpers/vcsim.js';

const available = vcsimOrSkip();

describe.skipIf(!available)('vSphere inventory on vcsim', () => {
  let sim: Vcsim;
  let client: VimClient;
  beforeAll(async () => {
    sim = Vcsim.start(['-cluster', '2', '-host', '3', '-standalone-host', '1', '-vm', '4', '-pg-std', '2', '-pg-dv', '2', '-page-size', '5']);
    client = await sim.connect();
  });
  afterAll(() => {
    client?.close();
    sim?.stop();
  });

  it('reads datacenters, clusters, hosts and VMs with their properties in one bulk call, paged', async () => {
    const methods: string[] = [];
    const post = client.transport.post.bind(client.transport);
    client.transport.post = (envelope, ...rest) => {
      methods.push(/<soapenv:Body><(\w+)/.exec(envelope)![1]!);
      return post(envelope, ...rest);
    };
    let objects;
    try {
      objects = await retrieveInventory(client, [
        { type: 'Datacenter', pathSet: ['name', 'vmFolder', 'hostFolder'] },
        { type: 'ClusterComputeResource', pathSet: ['name', 'host', 'resourcePool'] },
        { type: 'HostSystem', pathSet: ['name', 'parent', 'runtime.connectionState', 'summary.hardware.numCpuCores', 'vm'] },
        { type: 'VirtualMachine', pathSet: ['name', 'runtime.powerState', 'runtime.host', 'resourcePool', 'config.hardware.numCPU', 'config.hardware.memoryMB', 'config.hardware.device'] },
      ]);
    } finally {
      client.transport.post = post;
    }
    const ofType = (t: string) => objects.filter((o) => o.obj.type === t);
    expect(ofType('Datacenter')).toHaveLength(1);
    expect(ofType('ClusterComputeResource')).toHaveLength(2);
    expect(ofType('HostSystem')).toHaveLength(2 * 3 + 1);
    expect(ofType('VirtualMachine')).toHaveLength(2 * 4 + 4);
    // 1 + 2 + 7 + 12 = 22 objects in pages of 5: one RetrievePropertiesEx and four continuations.
    expect(methods.filter((m) => m === 'RetrievePropertiesEx')).toHaveLength(1);
    expect(methods.filter((m) => m === 'ContinueRetrievePropertiesEx')).toHaveLength(4);
    expect(methods.every((m) => ['CreateContainerView', 'RetrievePropertiesEx', 'ContinueRetrievePropertiesEx', 'DestroyView'].includes(m))).toBe(true);

    const hosts = new Map(ofType('HostSystem').map((h) => [h.obj.value, h]));
    for (const vm of ofType('VirtualMachine')) {
      expect(vm.props['runtime.powerState']).toBe('poweredOn');
      expect(vm.props['config.hardware.numCPU']).toBe(1);
      expect(vm.props['config.hardware.memoryMB']).toBe(32);
      const host = asMoRef(vm.props['runtime.host'])!;
      expect(host.type).toBe('HostSystem');
      expect(hosts.get(host.value)?.props['runtime.connectionState']).toBe('connected');
      const devices = asArray(vm.props['config.hardware.device']).map((d) => asObject(d).$type);
      expect(devices).toContain('VirtualDisk');
    }
    for (const cluster of ofType('ClusterComputeResource')) expect(asArray(cluster.props['host'])).toHaveLength(3);
  });

  it('an aborted paged read tells the server to drop the rest of the result', async () => {
    const methods: string[] = [];
    const abort = new AbortController();
    const post = client.transport.post.bind(client.transport);
    client.transport.post = async (envelope, ...rest) => {
      const method = /<soapenv:Body><(\w+)/.exec(envelope)![1]!;
      methods.push(method);
      const reply = await post(envelope, ...rest);
      if (method === 'RetrievePropertiesEx') abort.abort();
      return reply;
    };
    let err: unknown;
    try {
      await retrieveInventory(client, [{ type: 'VirtualMachine', pathSet: ['name'] }], { signal: abort.signal });
    } catch (e) {
      err = e;
    } finally {
      client.transport.post = post;
    }
    expect((err as Error).name).toBe('AbortError');
    expect(methods).toEqual(['CreateContainerView', 'RetrievePropertiesEx', 'CancelRetrievePropertiesEx', 'DestroyView']);
  });

  it('has the VLAN portgroups: standard ones on every host, distributed ones on the DVS', async () => {
    const objects = await retrieveInventory(client, [
      { type: 'HostSystem', pathSet: ['name', 'configManager.networkSystem', 'network'] },
      { type: 'Network', pathSet: ['name', 'host'] },
      { type: 'DistributedVirtualPortgroup', pathSet: ['name', 'config.defaultPortConfig'] },
    ]);
    const hostRefs = objects.filter((o) => o.obj.type === 'HostSystem');
    const networks = objects.filter((o) => o.obj.type === 'Network');
    for (const vlan of [101, 102]) {
      const net = networks.find((n) => n.props['name'] === `PG-VLAN${vlan}`);
      expect(net, `PG-VLAN${vlan}`).toBeDefined();
      expect(asArray(net!.props['host'])).toHaveLength(hostRefs.length);
    }
    const hns = hostRefs.map((h) => asMoRef(h.props['configManager.networkSystem'])!);
    // Not a managed entity, so not in a ContainerView: read by reference, still in one call.
    const netInfo = await retrieveProperties(client, { objects: hns, propSet: [{ type: 'HostNetworkSystem', pathSet: ['networkInfo.portgroup'] }] });
    expect(netInfo).toHaveLength(hns.length);
    for (const info of netInfo) {
      const vlans = Object.fromEntries(asArray(info.props['networkInfo.portgroup']).map((pg) => {
        const spec = asObject(asObject(pg)['spec']);
        return [spec['name'], asNumber(spec['vlanId'])];
      }));
      expect(vlans['PG-VLAN101']).toBe(101);
      expect(vlans['PG-VLAN102']).toBe(102);
    }
    const dv = Object.fromEntries(objects.filter((o) => o.obj.type === 'DistributedVirtualPortgroup').map((pg) => [
      pg.props['name'], asNumber(asObject(asObject(pg.props['config.defaultPortConfig'])['vlan'])['vlanId']),
    ]));
    expect(dv['DVPG-VLAN201']).toBe(201);
    expect(dv['DVPG-VLAN202']).toBe(202);
  });

  it('WaitForUpdatesEx sees a power change made by another session', async () => {
    const [vm] = (await retrieveInventory(client, [{ type: 'VirtualMachine', pathSet: ['name'] }])).map((o) => o.obj);
    const updates: ObjectUpdate[] = [];
    let resolveSeen: (ms: number) => void;
    const seen = new Promise<number>((r) => (resolveSeen = r));
    let changedAt = 0;
    const watcher = new UpdateWatcher(client, { objects: [vm!], propSet: [{ type: 'VirtualMachine', pathSet: ['runtime.powerState'] }] }, {
      onUpdate(set) {
        updates.push(...set.updates);
        if (set.updates.some((u) => u.changes.some((c) => c.name === 'runtime.powerState' && c.val === 'poweredOff'))) resolveSeen(Date.now() - changedAt);
      },
    }, 5);
    watcher.start();
    const other = await sim.connect();
    try {
      await new Promise((r) => setTimeout(r, 200)); // the watcher has its initial state
      expect(updates[0]?.kind).toBe('enter');
      changedAt = Date.now();
      await waitForTask(other, asMoRef(await other.call('PowerOffVM_Task', vm!))!);
      const latency = await seen;
      console.log(`power change seen through WaitForUpdatesEx after ${latency} ms`);
      const modify = updates.find((u) => u.kind === 'modify')!;
      expect(modify.obj).toEqual(new MoRef('VirtualMachine', vm!.value));
    } finally {
      other.close();
      await watcher.stop();
    }
  });

  it('a stream over a ContainerView makes its view again after a re-login, and sees a VM created meanwhile', async () => {
    const watched = await sim.connect();
    const admin = await sim.connect();
    const names = new Set<string>();
    let resyncs = 0;
    const spec = async (c: VimClient) => {
      const view = asMoRef(await c.call('CreateContainerView', c.serviceContent.viewManager!, { container: c.serviceContent.rootFolder, type: ['VirtualMachine'], recursive: true }))!;
      return { view, propSet: [{ type: 'VirtualMachine', pathSet: ['name'] }] };
    };
    const watcher = new UpdateWatcher(watched, spec, {
      onUpdate(set, resync) {
        if (resync) resyncs++;
        for (const u of set.updates) for (const c of u.changes) if (c.name === 'name') names.add(String(c.val));
      },
    }, 1);
    try {
      watcher.start();
      await new Promise((r) => setTimeout(r, 300));
      const before = names.size;
      expect(before).toBe(12);
      const key = asObject((await getProperties(watched, watched.sessionManager, ['currentSession']))['currentSession'])['key'] as string;
      await admin.call('TerminateSession', admin.sessionManager, { sessionId: [key] });
      const [dc] = await retrieveInventory(admin, [{ type: 'Datacenter', pathSet: ['vmFolder'] }]);
      const [cluster] = await retrieveInventory(admin, [{ type: 'ClusterComputeResource', pathSet: ['resourcePool'] }]);
      await waitForTask(admin, asMoRef(await admin.call('CreateVM_Task', asMoRef(dc!.props['vmFolder'])!, {
        config: { name: 'made-while-away', guestId: 'otherGuest', files: { vmPathName: '[LocalDS_0]' }, numCPUs: 1, memoryMB: 32 },
        pool: asMoRef(cluster!.props['resourcePool'])!,
      }))!);
      // A wait already in flight when the session ended may still bring the new VM before the
      // next call meets NotAuthenticated (seen under load), so wait for both, up to 10 s.
      for (let i = 0; i < 200 && !(names.has('made-while-away') && resyncs > 0); i++) await new Promise((r) => setTimeout(r, 50));
      expect(names.has('made-while-away')).toBe(true);
      expect(resyncs).toBe(1);
    } finally {
      await watcher.stop();
      watched.close();
      admin.close();
    }
  });

  it('the update stream survives its session being terminated: a new collector and a full resync', async () => {
    const [vm] = (await retrieveInventory(client, [{ type: 'VirtualMachine', pathSet: ['name'] }])).map((o) => o.obj);
    const watched = await sim.connect();
    const admin = await sim.connect();
    const calls: Array<{ resync: boolean; kinds: string[] }> = [];
    const errors: string[] = [];
    const watcher = new UpdateWatcher(watched, { objects: [vm!], propSet: [{ type: 'VirtualMachine', pathSet: ['runtime.powerState'] }] }, {
      onUpdate: (set, resync) => calls.push({ resync, kinds: set.updates.map((u) => u.kind) }),
      onError: (e) => errors.push(e instanceof Error ? e.name + ':' + ((e as { type?: string }).type ?? '') : String(e)),
    }, 1);
    try {
      watcher.start();
      await new Promise((r) => setTimeout(r, 200));
      expect(calls).toEqual([{ resync: false, kinds: ['enter'] }]);
      const key = asObject((await getProperties(watched, watched.sessionManager, ['currentSession']))['currentSession'])['key'] as string;
      await admin.call('TerminateSession', admin.sessionManager, { sessionId: [key] });
      for (let i = 0; i < 60 && !calls.some((c) => c.resync); i++) await new Promise((r) => setTimeout(r, 50));
      expect(calls.find((c) => c.resync)).toEqual({ resync: true, kinds: ['enter'] });
      expect(errors).toContain('VimFault:ManagedObjectNotFound');
      expect(watched.sessionGeneration).toBe(2);
    } finally {
      await watcher.stop();
      watched.close();
      admin.close();
    }
  });
});
