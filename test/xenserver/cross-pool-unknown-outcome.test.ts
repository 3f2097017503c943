/**
 * A cross-pool migration whose outcome Kiln could not learn, settled afterwards (xapi simulator,
 * two pools, each a Kiln cluster). migrate_send's answer is lost (task.get_record cut twice, past
 * the client's own retry) and the copy outlasts the driver's wait for it (lostAnswerWaitMs), so the
 * job fails with the connection error (534) and the VM is still recorded on its source host, as it
 * still runs there. The simulator then finishes the copy: the VM runs in the other pool under a new
 * ref and is gone from the first. The next reconcile pass must follow it there (its ref, host,
 * cluster and volumes, with an event saying the move completed after all) instead of recording it
 * Stopped while the destination pool lists it as a VM Kiln does not manage.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { XenServerDriver } from '../../drivers/xenserver/index.js';
import { testEngine, type TestEngine } from '../helpers/engine.js';
import { XapiSim } from '../helpers/xapi-sim.js';
import { Session } from '../xapi-sim/rpc-client.js';

const TEMPLATE = '/srv/xen-templates/kiln-unknown-outcome';
/** The copy (the source's task) outlasts the driver's wait for a lost answer. */
const COPY_MS = 4_000;
const WAIT_MS = 1_000;
type Rec = Record<string, unknown>;

describe('a cross-pool migration reported failed (its answer lost past the wait) that completes after all', () => {
  let a: XapiSim;
  let b: XapiSim;
  let xa: Session;
  let xb: Session;
  let t: TestEngine;
  const ids: Record<string, string> = {};
  const ok = async (command: string, params: Record<string, string> = {}) => {
    const res = await t.call(command, params);
    if (res.status !== 200) throw new Error(`${command}: ${res.status} ${JSON.stringify(res.body)}`);
    return res.body;
  };
  const job = async (command: string, params: Record<string, string>) => t.engine.jobs.wait(String((await ok(command, params))['jobid']));
  const inPool = async (x: Session, uuid: string) => Object.entries(await x.call<Record<string, Rec>>('VM.get_all_records')).filter(([, v]) => (v['other_config'] as Record<string, string>)['kiln_uuid'] === uuid);
  const row = (uuid: string) => t.engine.db.prepare('SELECT v.ref, v.state, h.name AS host, c.name AS cluster FROM vm_instances v LEFT JOIN hosts h ON h.id=v.host_id JOIN clusters c ON c.id=v.cluster_id WHERE v.uuid=?').get(uuid) as Rec;
  const hostRow = (name: string) => t.engine.db.prepare('SELECT id FROM hosts WHERE name=?').pluck().get(name) as number;

  beforeAll(async () => {
    a = await XapiSim.start({ hosts: [{ name: 'a-host-1' }], vms: [{ name: TEMPLATE, template: true }], eventTimeoutClampS: 1, taskDelayMs: 5 });
    b = await XapiSim.start({ hosts: [{ name: 'b-host-1' }], vms: [{ name: TEMPLATE, template: true }], eventTimeoutClampS: 1, taskDelayMs: 5 });
    xa = await Session.login(a.url, a.username, a.password);
    xb = await Session.login(b.url, b.username, b.password);
    t = await testEngine({ drivers: [new XenServerDriver({ eventTimeoutSeconds: 1, stopTimeoutMs: 2_000, lostAnswerWaitMs: WAIT_MS })] });
    ids['zone'] = ((await ok('createZone', { name: 'Two pools' }))['zone'] as { id: string }).id;
    const podid = ((await ok('createPod', { name: 'Pod', zoneid: ids['zone'] }))['pod'] as { id: string }).id;
    await ok('addCluster', { zoneid: ids['zone'], podid, clustername: 'Pool A', hypervisor: 'XenServer', url: a.url, username: a.username, password: a.password });
    await ok('addCluster', { zoneid: ids['zone'], podid, clustername: 'Pool B', hypervisor: 'XenServer', url: b.url, username: b.username, password: b.password });
    ids['poolB'] = ((await ok('listClusters', { name: 'Pool B' }))['cluster'] as { id: string }[])[0]!.id;
    ids['network'] = ((await ok('createNetwork', { name: 'Net', zoneid: ids['zone'], userdataprovider: 'VirtualRouter' }))['network'] as { id: string }).id;
    await ok('updateConfiguration', { name: 'kiln.template.local.dir', value: '/srv/xen-templates' });
    const ostypeid = ((await ok('listOsTypes'))['ostype'] as { id: string }[])[0]!.id;
    ids['template'] = ((await ok('registerTemplate', { name: 'unknown-outcome', displaytext: 'x', format: 'VHD', hypervisor: 'XenServer', ostypeid, url: TEMPLATE, size: String(2 ** 30) }))['template'] as { id: string }[])[0]!.id;
    ids['small'] = ((await ok('createServiceOffering', { name: 'small', displaytext: 'small', cpunumber: '1', cpuspeed: '1000', memory: '1024' }))['serviceoffering'] as { id: string }).id;
    ids['ha'] = ((await ok('createServiceOffering', { name: 'small-ha', displaytext: 'small HA', cpunumber: '1', cpuspeed: '1000', memory: '1024', offerha: 'true' }))['serviceoffering'] as { id: string }).id;
    for (const h of ['a-host-1', 'b-host-1']) ids[h] = ((await ok('listHosts', { name: h }))['host'] as { id: string }[])[0]!.id;
  }, 90_000);
  afterAll(async () => {
    await t?.close();
    await a?.stop();
    await b?.stop();
  });

  /** Deploys NAME on a-host-1 and migrates it to b-host-1 with the answer lost past the wait; returns once Kiln's sessions see it in pool B. */
  const moveLosingTheAnswer = async (name: string, offering = 'small') => {
    const deployed = await job('deployVirtualMachine', { zoneid: ids['zone']!, templateid: ids['template']!, serviceofferingid: ids[offering]!, networkids: ids['network']!, hostid: ids['a-host-1']!, name });
    expect(deployed['jobstatus']).toBe(1);
    const vm = (deployed['jobresult'] as { virtualmachine: { id: string } }).virtualmachine.id;
    const [[oldRef]] = await inPool(xa, vm);

    await a.control('options', { taskDelayMs: COPY_MS });
    await a.fault('task.get_record', { drop: true, count: 2, after: 'Async.VM.migrate_send' });
    const failed = await job('migrateVirtualMachine', { virtualmachineid: vm, hostid: ids['b-host-1']! });
    await a.control('clear-faults');
    await a.control('options', { taskDelayMs: 5 });
    const result = failed['jobresult'] as { errorcode: number; errortext: string };
    expect([failed['jobstatus'], result.errorcode]).toEqual([2, 534]);
    expect(result.errortext).toMatch(/to another pool: the pool master is unreachable: .*\(ECONNRESET\): socket hang up/);
    // When the job gave up the VM still ran (migrating) on its source host: Kiln records it there.
    expect(row(vm)).toMatchObject({ ref: oldRef, state: 'Running', host: 'a-host-1', cluster: 'Pool A' });

    // The simulator finishes the copy: the VM is in pool B under a new ref, gone from pool A.
    const until = Date.now() + 20_000;
    while ((await inPool(xb, vm)).length === 0 || (await inPool(xa, vm)).length > 0) {
      if (Date.now() > until) throw new Error('the copy did not end');
      await new Promise((r) => setTimeout(r, 100));
    }
    const [[newRef, rec]] = await inPool(xb, vm);
    expect([rec['power_state'], rec['resident_on']]).toEqual(['Running', b.info.hosts[0]!.ref]);
    // Kiln's sessions have read it too (their inventories follow xapi's events).
    const source = await t.engine.hosts.session(hostRow('a-host-1'));
    const destination = await t.engine.hosts.session(hostRow('b-host-1'));
    while ((await source.powerState(oldRef!)) !== 'Missing' || !(await destination.listInstances()).some((i) => i.ref === newRef)) {
      if (Date.now() > until) throw new Error('Kiln\'s sessions did not see the move');
      await new Promise((r) => setTimeout(r, 100));
    }
    return { vm, newRef: newRef!, rec };
  };

  /** What the user sees once the pass followed the move: Running on b-host-1, its volume there, not unmanaged, the event. */
  const expectFollowed = async (vm: string, newRef: string, rec: Rec) => {
    const listed = ((await ok('listVirtualMachines', { id: vm }))['virtualmachine'] as Rec[])[0]!;
    expect([listed['state'], listed['hostname'], listed['hostid']]).toEqual(['Running', 'b-host-1', ids['b-host-1']]);
    expect(row(vm)).toEqual({ ref: newRef, state: 'Running', host: 'b-host-1', cluster: 'Pool B' });
    const volumes = (await ok('listVolumes', { virtualmachineid: vm }))['volume'] as Rec[];
    expect(volumes.map((v) => v['storage'])).toEqual(['NFS virtual disk storage']);
    const vdis = await Promise.all((rec['VBDs'] as string[]).map((vbd) => xb.call<string>('VBD.get_VDI', vbd)));
    const volumeRefs = t.engine.db.prepare('SELECT o.ref FROM volumes o JOIN vm_instances v ON v.id=o.vm_id WHERE v.uuid=? AND o.removed IS NULL').pluck().all(vm);
    expect(volumeRefs).toHaveLength(1);
    expect(vdis).toEqual(expect.arrayContaining(volumeRefs));
    const unmanaged = ((await ok('listUnmanagedInstances', { clusterid: ids['poolB']! }))['unmanagedinstance'] as Rec[] | undefined) ?? [];
    expect(unmanaged.map((u) => u['name'])).not.toContain(rec['name_label']);
    const events = ((await ok('listEvents', { type: 'VM.MIGRATE' }))['event'] as Rec[] | undefined) ?? [];
    expect(events.filter((e) => String(e['description']).includes(vm)).map((e) => e['description'])).toContainEqual(
      expect.stringMatching(/is running on host b-host-1: its move from host a-host-1, .* completed after all/),
    );
  };

  it('the job fails with the lost answer\'s error; once the copy ends, the next reconcile has the VM Running on the destination host with its volume there, and not unmanaged', async () => {
    const { vm, newRef, rec } = await moveLosingTheAnswer('late-mover');
    await t.engine.background.ha.pass();
    await expectFollowed(vm, newRef, rec);
  }, 60_000);

  it('a VM an earlier pass already recorded Stopped (missing from its host) is found Running in the other pool and recorded there', async () => {
    const { vm, newRef, rec } = await moveLosingTheAnswer('later-mover');
    // What a pass before this change recorded: Stopped outside Kiln, its last host the source.
    const id = t.engine.db.prepare('SELECT id FROM vm_instances WHERE uuid=?').pluck().get(vm) as number;
    t.engine.vms.transition(t.engine.vms.get(id), 'Stopped', { hostId: null, note: 'stopped outside Kiln: missing from host' });
    t.engine.db.prepare('UPDATE vm_instances SET last_host_id=? WHERE id=?').run(hostRow('a-host-1'), id);
    expect(((await ok('listVirtualMachines', { id: vm }))['virtualmachine'] as Rec[])[0]!['state']).toBe('Stopped');
    await t.engine.background.ha.pass();
    await expectFollowed(vm, newRef, rec);
  }, 60_000);

  it('an HA VM whose source host is checked alone (the destination host disabled, so the pass skips it) is found in the other pool by that check, not restarted', async () => {
    const { vm, newRef, rec } = await moveLosingTheAnswer('ha-mover', 'ha');
    const dst = hostRow('b-host-1');
    t.engine.db.prepare(`UPDATE hosts SET resource_state='Disabled' WHERE id=?`).run(dst);
    try {
      await t.engine.background.ha.pass();
    } finally {
      t.engine.db.prepare(`UPDATE hosts SET resource_state='Enabled' WHERE id=?`).run(dst);
    }
    await expectFollowed(vm, newRef, rec);
    const restarts = ((await ok('listEvents', { type: 'HA.RESTART' }))['event'] as Rec[] | undefined) ?? [];
    expect(restarts.filter((e) => String(e['description']).includes(vm))).toEqual([]);
    expect(await inPool(xa, vm)).toEqual([]);
  }, 60_000);
});
