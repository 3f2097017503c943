/** The VM lifecycle on the simulator zone: states, events, ownership, expunge and names. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testEngine, demoIds, dbFingerprint, type TestEngine } from '../helpers/engine.js';
import type { Caller } from '../../main/engine/registry/types.js';
import { TRANSITIONS, VM_STATES } from '../../main/engine/vm/states.js';

let t: TestEngine;
let ids: ReturnType<typeof demoIds>;
let alice: Caller;
let bob: Caller;

function userCaller(name: string): Caller {
  const { userId } = t.engine.accounts.createAccount({ name, role: 'User', domainId: t.admin.domainId, username: name, password: 'secret-pw' });
  return t.engine.accounts.byUserId(userId)!;
}

async function deploy(params: Record<string, string> = {}, caller: Caller = t.admin) {
  const job = await t.run('deployVirtualMachine', { zoneid: ids.zoneid, templateid: ids.templateid, serviceofferingid: ids.small, ...params }, caller);
  if (job['jobstatus'] !== 1) throw new Error(JSON.stringify(job['jobresult']));
  return (job['jobresult'] as { virtualmachine: Record<string, unknown> }).virtualmachine;
}

beforeAll(async () => {
  t = await testEngine();
  ids = demoIds(t.engine);
  alice = userCaller('alice');
  bob = userCaller('bob');
});
afterAll(() => t.close());

describe('states', () => {
  it('has one transition table covering every state', () => {
    expect(Object.keys(TRANSITIONS).sort()).toEqual([...VM_STATES].sort());
    for (const targets of Object.values(TRANSITIONS)) for (const to of targets) expect(VM_STATES).toContain(to);
  });

  it('keeps a VM deployed with startvm=false Created until it first starts', async () => {
    const vm = await deploy({ startvm: 'false', name: 'created-only' });
    expect(vm['state']).toBe('Created');
    expect(vm['hostid']).toBeUndefined();
    const started = await t.run('startVirtualMachine', { id: String(vm['id']) });
    expect(started['jobresult']).toMatchObject({ virtualmachine: { state: 'Running', hostname: expect.stringMatching(/^sim-host-/) } });
  });

  it('refuses an illegal transition with 431 naming the current state, and writes nothing', async () => {
    const vm = await deploy({ name: 'illegal' });
    const before = dbFingerprint(t.engine);
    const res = await t.call('startVirtualMachine', { id: String(vm['id']) });
    expect(res.status).toBe(431);
    expect(String(res.body['errortext'])).toMatch(/state Running/);
    const recover = await t.call('recoverVirtualMachine', { id: String(vm['id']) });
    expect(recover.status).toBe(431);
    expect(dbFingerprint(t.engine)).toBe(before);
  });

  it('writes an event and a usage event for each transition', async () => {
    const vm = await deploy({ name: 'evented' });
    await t.run('stopVirtualMachine', { id: String(vm['id']) });
    const events = (await t.call('listEvents', { resourceid: String(vm['id']) })).body['event'] as { type: string; description: string }[];
    const transitions = events.map((e) => e.description.match(/: (\w+) -> (\w+)/)?.slice(1).join('>')).filter(Boolean).reverse();
    expect(transitions).toEqual(['Creating>Starting', 'Starting>Running', 'Running>Stopping', 'Stopping>Stopped']);
    const vmId = (t.engine.db.prepare('SELECT id FROM vm_instances WHERE uuid=?').get(vm['id']) as { id: number }).id;
    expect(t.engine.events.usageCount('VM.START', vmId)).toBe(1);
    expect(t.engine.events.usageCount('VM.STOP', vmId)).toBe(1);
  });

  it('stops gracefully by default and at once with forced=true', async () => {
    const vm = await deploy({ name: 'stopper' });
    const forced = await t.run('stopVirtualMachine', { id: String(vm['id']), forced: 'true' });
    expect(forced['jobresult']).toMatchObject({ virtualmachine: { state: 'Stopped' } });
    const events = (await t.call('listEvents', { resourceid: String(vm['id']), type: 'VM.STOP' })).body['event'] as { description: string }[];
    expect(events.some((e) => /forced/.test(e.description))).toBe(true);
  });
});

describe('deploy from an ISO (R6)', () => {
  it('makes a blank root disk from the disk offering and attaches the ISO', async () => {
    const vm = await deploy({ templateid: ids.isoid, diskofferingid: ids.diskSmall, name: 'from-iso' });
    expect(vm).toMatchObject({ state: 'Running', isoid: ids.isoid });
    expect(vm['templateid']).toBeUndefined();
    const root = t.engine.db.prepare(`SELECT size FROM volumes WHERE vm_id=(SELECT id FROM vm_instances WHERE uuid=?) AND volume_type='ROOT'`).get(vm['id']) as { size: number };
    expect(root.size).toBe(5 * 1024 ** 3);
    const row = t.engine.db.prepare('SELECT v.internal_name, h.name FROM vm_instances v JOIN hosts h ON h.id=v.host_id WHERE v.uuid=?').get(vm['id']) as { internal_name: string; name: string };
    const spec = t.engine.simulator.world.find(row.name)!.domains[row.internal_name]!.spec;
    expect(spec.isoPath).toBe('debian-12-netinst.iso');
    expect(spec.disks[0]!.backingImage).toBeUndefined();
    const refused = await t.call('deployVirtualMachine', { zoneid: ids.zoneid, templateid: ids.isoid, serviceofferingid: ids.small });
    expect(refused.status).toBe(431);
    expect(String(refused.body['errortext'])).toMatch(/diskofferingid/);
  });
});

describe('ownership and visibility', () => {
  it('lets users act on their own VMs only, and the root admin on any', async () => {
    const vm = await deploy({ name: 'alices' }, alice);
    expect((await t.call('stopVirtualMachine', { id: String(vm['id']) }, bob)).status).toBe(531);
    expect((await t.call('listVirtualMachines', {}, bob)).body).toEqual({});
    const listed = (await t.call('listVirtualMachines', {}, alice)).body['virtualmachine'] as Record<string, unknown>[];
    expect(listed.map((v) => v['name'])).toEqual(['alices']);
    expect(listed[0]!['instancename']).toBeUndefined();
    expect(listed[0]!['hostid']).toBeUndefined();
    const stopped = await t.run('stopVirtualMachine', { id: String(vm['id']) });
    expect(stopped['jobstatus']).toBe(1);
  });

  it('gives 531 when a user passes hostid, podid or clusterid', async () => {
    const host = (t.engine.db.prepare('SELECT uuid FROM hosts LIMIT 1').get() as { uuid: string }).uuid;
    const res = await t.call('deployVirtualMachine', { zoneid: ids.zoneid, templateid: ids.templateid, serviceofferingid: ids.small, hostid: host }, alice);
    expect(res.status).toBe(531);
    const admin = await deploy({ name: 'pinned', hostid: host });
    expect(admin['hostid']).toBe(host);
  });

  it('starts a stopped VM where an admin says (R10), leaving no copy defined on its old host; a user passing hostid gets 531', async () => {
    const vm = await deploy({ name: 'mover' });
    const defined = () => (t.engine.db.prepare('SELECT name, uuid FROM hosts ORDER BY id').all() as { name: string; uuid: string }[]).filter((h) => (t.engine.db.prepare('SELECT internal_name FROM vm_instances WHERE uuid=?').pluck().get(String(vm['id'])) as string) in t.engine.simulator.world.find(h.name)!.domains);
    const before = defined();
    expect(before).toHaveLength(1);
    const other = (t.engine.db.prepare('SELECT uuid, pod_id, cluster_id FROM hosts WHERE uuid<>? ORDER BY id LIMIT 1').get(before[0]!.uuid) as { uuid: string });
    await t.run('stopVirtualMachine', { id: String(vm['id']) });
    const snapshot = dbFingerprint(t.engine);
    const refused = await t.call('startVirtualMachine', { id: String(vm['id']), hostid: other.uuid }, alice);
    expect(refused.status).toBe(531);
    expect(dbFingerprint(t.engine)).toBe(snapshot);
    const started = await t.run('startVirtualMachine', { id: String(vm['id']), hostid: other.uuid });
    expect(started['jobresult']).toMatchObject({ virtualmachine: { state: 'Running', hostid: other.uuid } });
    expect(defined().map((h) => h.uuid)).toEqual([other.uuid]);
    const pod = t.engine.db.prepare('SELECT p.uuid FROM pods p JOIN hosts h ON h.pod_id=p.id WHERE h.uuid=?').pluck().get(other.uuid) as string;
    await t.run('stopVirtualMachine', { id: String(vm['id']) });
    expect((await t.run('startVirtualMachine', { id: String(vm['id']), podid: pod }))['jobstatus']).toBe(1);
  });

  it('hides a destroyed VM from its user, shows it to the root admin, and recovers it as Stopped', async () => {
    const vm = await deploy({ name: 'phoenix' }, alice);
    const destroyed = await t.run('destroyVirtualMachine', { id: String(vm['id']) }, alice);
    expect(destroyed['jobresult']).toMatchObject({ virtualmachine: { state: 'Destroyed' } });
    expect((await t.call('listVirtualMachines', { id: String(vm['id']) }, alice)).body).toEqual({});
    expect((await t.call('listVirtualMachines', { id: String(vm['id']) })).body).toMatchObject({ count: 1, virtualmachine: [{ state: 'Destroyed' }] });
    expect((await t.call('recoverVirtualMachine', { id: String(vm['id']) }, alice)).status).toBe(432);
    expect((await t.call('recoverVirtualMachine', { id: String(vm['id']) })).body).toMatchObject({ virtualmachine: { state: 'Stopped' } });
  });
});

describe('expunge', () => {
  it('frees the MAC address and deletes the VM for good', async () => {
    const vm = await deploy({ name: 'gone' });
    const mac = (vm['nic'] as { macaddress: string }[])[0]!.macaddress;
    const job = await t.run('destroyVirtualMachine', { id: String(vm['id']), expunge: 'true' });
    expect(job['jobresult']).toEqual({ success: true });
    expect(t.engine.db.prepare('SELECT COUNT(*) AS n FROM nics WHERE mac_address=? AND removed IS NULL').get(mac)).toEqual({ n: 0 });
    expect((await t.call('listVirtualMachines', { id: String(vm['id']) })).body).toEqual({});
  });

  it('lets the sweeper expunge only what is older than expunge.delay', async () => {
    const vm = await deploy({ name: 'swept' });
    await t.run('destroyVirtualMachine', { id: String(vm['id']) });
    expect(await t.engine.background.sweep()).toBe(0);
    await t.call('updateConfiguration', { name: 'expunge.delay', value: '0' });
    expect(await t.engine.background.sweep()).toBeGreaterThanOrEqual(1);
    expect(t.engine.db.prepare('SELECT state FROM vm_instances WHERE uuid=?').get(vm['id'])).toEqual({ state: 'Expunged' });
    await t.call('updateConfiguration', { name: 'expunge.delay', value: '86400' });
  });
});

describe('names (R1–R4)', () => {
  // The seed's table: display name given or not × vm.instancename.flag true or false.
  it.each([
    { display: 'web-frontend', flag: 'true', internal: /^i-\d+-\d+-web-frontend$/, hostname: 'web-frontend' },
    { display: undefined, flag: 'true', internal: /^i-\d+-\d+-VM$/, hostname: /^VM-[0-9a-f-]{36}$/ },
    { display: 'web-frontend', flag: 'false', internal: /^i-\d+-\d+-VM$/, hostname: 'web-frontend' },
    { display: undefined, flag: 'false', internal: /^i-\d+-\d+-VM$/, hostname: /^VM-[0-9a-f-]{36}$/ },
  ])('display name $display with vm.instancename.flag=$flag', async ({ display, flag, internal, hostname }) => {
    await t.call('updateConfiguration', { name: 'vm.instancename.flag', value: flag });
    const vm = await deploy({ startvm: 'false', ...(display ? { displayname: display } : {}) }, alice);
    const asAdmin = ((await t.call('listVirtualMachines', { id: String(vm['id']) })).body['virtualmachine'] as Record<string, string>[])[0]!;
    expect(asAdmin['instancename']).toMatch(internal);
    expect(asAdmin['instancename']).toMatch(new RegExp(`^i-${alice.userId}-`));
    expect(asAdmin['name']).toMatch(hostname);
    expect(vm['instancename']).toBeUndefined();
    await t.run('destroyVirtualMachine', { id: String(vm['id']), expunge: 'true' });
  });

  it('validates the hostname', async () => {
    for (const name of ['1abc', 'bad_name', 'ends-', 'x'.repeat(64), 'spa ce']) {
      const res = await t.call('deployVirtualMachine', { zoneid: ids.zoneid, templateid: ids.templateid, serviceofferingid: ids.small, name });
      expect(res.status, name).toBe(431);
      expect(String(res.body['errortext'])).toMatch(/name/);
    }
  });
});
