/** R7, R9, R12, R13, R15–R19, R29, R30 on the simulator zone. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testEngine, demoIds, dbFingerprint, deployDemo, simDomain as simDomainOf, consoleRun as consoleRunOn, type TestEngine } from '../helpers/engine.js';
import type { Caller } from '../../main/engine/registry/types.js';

let t: TestEngine;
let ids: ReturnType<typeof demoIds>;
let alice: Caller;

const deploy = (params: Record<string, string> = {}, caller: Caller = t.admin) => deployDemo(t, params, caller);
const simDomain = (vmId: string) => simDomainOf(t, vmId);
const consoleRun = (vmId: string, command: string) => consoleRunOn(t, vmId, command);

function offering(name: string, extra: Record<string, string> = {}) {
  return t.call('createServiceOffering', { name, ...extra }).then((r) => (r.body['serviceoffering'] as { id: string }).id);
}

beforeAll(async () => {
  t = await testEngine();
  ids = demoIds(t.engine);
  const { userId } = t.engine.accounts.createAccount({ name: 'alice', role: 'User', domainId: t.admin.domainId, username: 'alice', password: 'secret-pw' });
  alice = t.engine.accounts.byUserId(userId)!;
});
afterAll(() => t.close());

describe('R9: start rebuilds from the database, reboot does not', () => {
  it('applies a changed offering at start, and leaves the domain alone on reboot', async () => {
    const vm = await deploy({ name: 'r9' });
    expect(simDomain(vm['id']!).domain.spec).toMatchObject({ cpuNumber: 1, memoryMiB: 512 });
    // A stored change while running does not reach the hypervisor on reboot…
    t.engine.db.prepare('UPDATE vm_instances SET memory=768 WHERE uuid=?').run(vm['id']);
    await t.run('rebootVirtualMachine', { id: vm['id']! });
    expect(simDomain(vm['id']!).domain.spec.memoryMiB).toBe(512);
    // …but a new offering on the stopped VM does, at start.
    await t.run('stopVirtualMachine', { id: vm['id']! });
    const changed = await t.call('changeServiceForVirtualMachine', { id: vm['id']!, serviceofferingid: ids.large });
    expect(changed.body['virtualmachine']).toMatchObject({ cpunumber: 2, memory: 4096, serviceofferingname: 'Large Instance' });
    await t.run('startVirtualMachine', { id: vm['id']! });
    expect(simDomain(vm['id']!).domain.spec).toMatchObject({ cpuNumber: 2, memoryMiB: 4096 });
  });
});

describe('R12 and R30: edit and details', () => {
  it('changes display name, group and HA while running, but name and OS type only when stopped', async () => {
    const ha = await offering('ha-small', { cpunumber: '1', cpuspeed: '500', memory: '512', offerha: 'true' });
    const vm = await deploy({ name: 'editme', serviceofferingid: ha });
    const running = await t.call('updateVirtualMachine', { id: vm['id']!, displayname: 'Edited', group: 'web', haenable: 'true' });
    expect(running.body['virtualmachine']).toMatchObject({ displayname: 'Edited', group: 'web', haenable: true });
    const before = dbFingerprint(t.engine);
    const refused = await t.call('updateVirtualMachine', { id: vm['id']!, name: 'renamed' });
    expect(refused.status).toBe(431);
    expect(String(refused.body['errortext'])).toMatch(/name: .*Running; stop it first/);
    expect(dbFingerprint(t.engine)).toBe(before);
    await t.run('stopVirtualMachine', { id: vm['id']! });
    const os = (t.engine.db.prepare(`SELECT uuid FROM guest_os WHERE display_name='Ubuntu 24.04 LTS (64-bit)'`).get() as { uuid: string }).uuid;
    const stopped = await t.call('updateVirtualMachine', { id: vm['id']!, name: 'renamed', ostypeid: os, isdynamicallyscalable: 'false' });
    expect(stopped.body['virtualmachine']).toMatchObject({ name: 'renamed', osdisplayname: 'Ubuntu 24.04 LTS (64-bit)', isdynamicallyscalable: false });
  });

  it('clears the group with an empty value, and host tags likewise', async () => {
    const vm = await deploy({ name: 'grouped', group: 'web' });
    const cleared = await t.call('updateVirtualMachine', { id: vm['id']!, group: '' });
    expect((cleared.body['virtualmachine'] as { group?: string }).group).toBeUndefined();
    const host = (t.engine.db.prepare('SELECT uuid FROM hosts LIMIT 1').get() as { uuid: string }).uuid;
    await t.call('updateHost', { id: host, hosttags: 'ssd,fast' });
    expect(((await t.call('updateHost', { id: host, hosttags: '' })).body['host'] as { hosttags?: string }).hosttags).toBeUndefined();
  });

  it('refuses haenable on an offering without HA', async () => {
    const vm = await deploy({ name: 'noha' });
    const res = await t.call('updateVirtualMachine', { id: vm['id']!, haenable: 'true' });
    expect(res.status).toBe(431);
    expect(String(res.body['errortext'])).toMatch(/haenable/);
  });

  it('edits details only when stopped, hides blacklisted keys from users and refuses them', async () => {
    const vm = await deploy({ name: 'detailed', 'details[0].rootdisksize': '20', 'details[0].keyboard': 'us' }, alice);
    expect((await t.call('updateVirtualMachine', { id: vm['id']!, 'details[0].keyboard': 'de' }, alice)).status).toBe(431);
    await t.run('stopVirtualMachine', { id: vm['id']! }, alice);
    const asUser = (await t.call('listVirtualMachines', { id: vm['id']! }, alice)).body['virtualmachine'] as { details: Record<string, string> }[];
    expect(asUser[0]!.details).toEqual({ keyboard: 'us' });
    const asAdmin = (await t.call('listVirtualMachines', { id: vm['id']! })).body['virtualmachine'] as { details: Record<string, string> }[];
    expect(asAdmin[0]!.details).toEqual({ keyboard: 'us', rootdisksize: '20' });
    const refused = await t.call('updateVirtualMachine', { id: vm['id']!, 'details[0].cpuOvercommitRatio': '2' }, alice);
    expect(refused.status).toBe(431);
    expect(String(refused.body['errortext'])).toMatch(/cpuOvercommitRatio is read-only/);
    const set = await t.call('updateVirtualMachine', { id: vm['id']!, 'details[0].keyboard': 'de', 'details[0].nicAdapter': 'e1000' }, alice);
    expect((set.body['virtualmachine'] as { details: Record<string, string> }).details).toEqual({ keyboard: 'de', nicAdapter: 'e1000' });
    const cleaned = await t.call('updateVirtualMachine', { id: vm['id']!, cleanupdetails: 'true' }, alice);
    expect((cleaned.body['virtualmachine'] as { details: Record<string, string> }).details).toEqual({});
    // The hidden key survives a user's cleanup.
    expect(((await t.call('listVirtualMachines', { id: vm['id']! })).body['virtualmachine'] as { details: Record<string, string> }[])[0]!.details).toEqual({ rootdisksize: '20' });
  });

  it('offers the known detail keys', async () => {
    const admin = await t.call('listDetailOptions', { resourcetype: 'UserVm' });
    expect(Object.keys((admin.body['detailoptions'] as { details: Record<string, string[]> }).details)).toEqual(['rootdisksize', 'cpuOvercommitRatio', 'memoryOvercommitRatio', 'Message.ReservedCapacityFreed.Flag']);
  });
});

describe('R16–R18: live scaling', () => {
  it('needs the zone setting and a dynamically scalable VM', async () => {
    const vm = await deploy({ name: 'scale-off' });
    const medium = (t.engine.db.prepare(`SELECT uuid FROM service_offerings WHERE name='Medium Instance'`).get() as { uuid: string }).uuid;
    const off = await t.call('scaleVirtualMachine', { id: vm['id']!, serviceofferingid: medium });
    expect(off.status).toBe(431);
    expect(String(off.body['errortext'])).toMatch(/enable.dynamic.scale.vm/);
    await t.call('updateConfiguration', { name: 'enable.dynamic.scale.vm', value: 'true', zoneid: ids.zoneid });
    const rocky = (t.engine.db.prepare(`SELECT uuid FROM templates WHERE name='Rocky 9'`).get() as { uuid: string }).uuid;
    const fixed = await deploy({ name: 'not-scalable', templateid: rocky });
    const refused = await t.call('scaleVirtualMachine', { id: fixed['id']!, serviceofferingid: medium });
    expect(String(refused.body['errortext'])).toMatch(/not dynamically scalable/);
    const ok = await t.run('scaleVirtualMachine', { id: vm['id']!, serviceofferingid: medium });
    expect(ok['jobresult']).toMatchObject({ virtualmachine: { memory: 1024, state: 'Running', serviceofferingname: 'Medium Instance' } });
    expect(simDomain(vm['id']!).domain.spec.memoryMiB).toBe(1024);
  });

  it('refuses to scale a Linux 64-bit VM that started below 3 GB past 3 GB (R18)', async () => {
    const vm = await deploy({ name: 'three-gb' });
    const big = await offering('4g', { cpunumber: '1', cpuspeed: '500', memory: '4096' });
    const res = await t.call('scaleVirtualMachine', { id: vm['id']!, serviceofferingid: big });
    expect(res.status).toBe(431);
    expect(String(res.body['errortext'])).toMatch(/3 GB/);
  });

  it('migrates within the cluster when the host lacks room, and fails leaving the VM unchanged when none has it (R17)', async () => {
    const hosts = t.engine.db.prepare(`SELECT id, uuid FROM hosts ORDER BY id`).all() as { id: number; uuid: string }[];
    // Fill host 1 so a 2.5 GB VM there cannot grow, while host 2 has room.
    const vm = await deploy({ name: 'mover', hostid: hosts[0]!.uuid, serviceofferingid: await offering('2g', { cpunumber: '1', cpuspeed: '500', memory: '2048' }) });
    const used = t.engine.planner.usage(hosts[0]!.id).memory;
    const filler = await offering('filler', { cpunumber: '1', cpuspeed: '100', memory: String(16384 - used - 512) });
    await deploy({ name: 'filler', hostid: hosts[0]!.uuid, serviceofferingid: filler });
    const grow = await offering('3g', { cpunumber: '1', cpuspeed: '500', memory: '3072' });
    const moved = await t.run('scaleVirtualMachine', { id: vm['id']!, serviceofferingid: grow });
    expect(moved['jobresult']).toMatchObject({ virtualmachine: { memory: 3072, state: 'Running' } });
    // The explanation says why it left its host and why it went where it did.
    const explained = (moved['jobresult'] as { virtualmachine: { hostname: string; placement: { hosts: { hostName: string; suitable: boolean; reason: string }[] } } }).virtualmachine;
    expect(explained.placement.hosts[0]).toMatchObject({ hostName: 'sim-host-1', suitable: false, reason: expect.stringMatching(/^memory: needs 3072 MB, \d+ MB free$/) });
    expect(explained.placement.hosts.find((h) => h.hostName === explained.hostname)).toMatchObject({ suitable: true });
    expect((moved['jobresult'] as { virtualmachine: { hostid: string } }).virtualmachine.hostid).not.toBe(hosts[0]!.uuid);
    // Now nothing can hold 15 GB: the job fails with 533 and the VM keeps running as it was.
    await t.call('updateConfiguration', { name: 'vm.stop.timeout', value: '1' });
    const huge = await offering('15g', { cpunumber: '1', cpuspeed: '500', memory: '15360' });
    t.engine.db.prepare(`UPDATE vm_details SET value='4096' WHERE name='kiln.startMemory' AND vm_id=(SELECT id FROM vm_instances WHERE uuid=?)`).run(vm['id']);
    for (const h of hosts.slice(1)) await deploy({ name: `block-${h.id}`, hostid: h.uuid, serviceofferingid: await offering(`b${h.id}`, { cpunumber: '1', cpuspeed: '100', memory: '4096' }) });
    const failed = await t.run('scaleVirtualMachine', { id: vm['id']!, serviceofferingid: huge });
    expect(failed).toMatchObject({ jobstatus: 2, jobresultcode: 533 });
    expect(((await t.call('listVirtualMachines', { id: vm['id']! })).body['virtualmachine'] as Record<string, unknown>[])[0]).toMatchObject({ state: 'Running', memory: 3072 });
  });
});

describe('R19 and R29: fresh root disks', () => {
  it('resets the root disk on every reboot with a volatile offering', async () => {
    const volatile = await offering('volatile', { cpunumber: '1', cpuspeed: '500', memory: '512', isvolatile: 'true' });
    const vm = await deploy({ name: 'volatile', serviceofferingid: volatile });
    await consoleRun(vm['id']!, 'echo before-reboot > /dev/vda');
    expect(await consoleRun(vm['id']!, 'cat /dev/vda')).toContain('before-reboot');
    await t.run('rebootVirtualMachine', { id: vm['id']! });
    expect(await consoleRun(vm['id']!, 'cat /dev/vda')).not.toContain('before-reboot');
    const plain = await deploy({ name: 'keeper' });
    await consoleRun(plain['id']!, 'echo kept > /dev/vda');
    await t.run('rebootVirtualMachine', { id: plain['id']! });
    expect(await consoleRun(plain['id']!, 'cat /dev/vda')).toContain('kept');
  });

  it('restores from a new template or the current one, and refuses template-to-ISO', async () => {
    const vm = await deploy({ name: 'restore' });
    await consoleRun(vm['id']!, 'echo old-root > /dev/vda');
    const ubuntu = (t.engine.db.prepare(`SELECT uuid FROM templates WHERE name='Ubuntu 24.04'`).get() as { uuid: string }).uuid;
    const refused = await t.call('restoreVirtualMachine', { virtualmachineid: vm['id']!, templateid: ids.isoid });
    expect(refused.status).toBe(431);
    const restored = await t.run('restoreVirtualMachine', { virtualmachineid: vm['id']!, templateid: ubuntu });
    expect(restored['jobresult']).toMatchObject({ virtualmachine: { state: 'Running', templatename: 'Ubuntu 24.04' } });
    expect(await consoleRun(vm['id']!, 'cat /dev/vda')).not.toContain('old-root');
    const again = await t.run('restoreVirtualMachine', { virtualmachineid: vm['id']! });
    expect(again['jobresult']).toMatchObject({ virtualmachine: { templatename: 'Ubuntu 24.04' } });
  });
});

describe('R7: isdynamicallyscalable on templates', () => {
  it('is set with updateTemplate and inherited by new VMs', async () => {
    const rocky = (t.engine.db.prepare(`SELECT uuid FROM templates WHERE name='Rocky 9'`).get() as { uuid: string }).uuid;
    const res = await t.call('updateTemplate', { id: rocky, isdynamicallyscalable: 'true' });
    expect(res.body['template']).toMatchObject({ isdynamicallyscalable: true });
    const vm = await deploy({ name: 'rocky-scalable', templateid: rocky });
    expect(vm['isdynamicallyscalable']).toBe(true);
    expect((await t.call('updateTemplate', { id: rocky, isdynamicallyscalable: 'false' }, alice)).status).toBe(531);
  });
});

describe('R13: HA on the simulator', () => {
  async function haVm(name: string) {
    const ha = await offering(`ha-${name}`, { cpunumber: '1', cpuspeed: '100', memory: '256', offerha: 'true' });
    return deploy({ name, serviceofferingid: ha });
  }
  async function settle() {
    await new Promise((r) => setTimeout(r, 20));
    await t.engine.jobs.drain();
  }

  beforeAll(() => t.engine.background.ha.start());
  afterAll(() => t.engine.background.ha.stop());

  it('restarts an HA VM that crashed, and one the guest shut down', async () => {
    const vm = await haVm('crashy');
    const { host, internal_name } = simDomain(vm['id']!);
    t.engine.simulator.crash(host, internal_name);
    await settle();
    expect(simDomain(vm['id']!).domain.power).toBe('Running');
    t.engine.simulator.guestShutdown(host, internal_name);
    await settle();
    const events = ((await t.call('listEvents', { resourceid: vm['id']!, type: 'HA.RESTART' })).body['event'] as unknown[]).length;
    expect(events).toBe(2);
    expect(((await t.call('listVirtualMachines', { id: vm['id']! })).body['virtualmachine'] as { state: string }[])[0]!.state).toBe('Running');
  });

  it('does not restart a VM stopped through Kiln, nor one with HA off', async () => {
    const vm = await haVm('stopped-by-kiln');
    await t.run('stopVirtualMachine', { id: vm['id']! });
    await settle();
    expect(((await t.call('listVirtualMachines', { id: vm['id']! })).body['virtualmachine'] as { state: string }[])[0]!.state).toBe('Stopped');
    const plain = await deploy({ name: 'no-ha-crash' });
    const { host, internal_name } = simDomain(plain['id']!);
    t.engine.simulator.crash(host, internal_name);
    await settle();
    expect(((await t.call('listVirtualMachines', { id: plain['id']! })).body['virtualmachine'] as { state: string }[])[0]!.state).toBe('Stopped');
  });

  it('restarts the HA VMs of a host that went down on another host, and never leaves one running twice', async () => {
    const vm = await haVm('survivor');
    const { host } = simDomain(vm['id']!);
    t.engine.simulator.setHostUp(host, false);
    for (let i = 0; i < 3; i++) await t.engine.background.ha.pass();
    await settle();
    const after = ((await t.call('listVirtualMachines', { id: vm['id']! })).body['virtualmachine'] as { state: string; hostname: string }[])[0]!;
    expect(after.state).toBe('Running');
    expect(after.hostname).not.toBe(host);
    // The HA restart's job carries the placement explanation: the dead host refused, with its reason.
    const restart = t.engine.db.prepare(`SELECT uuid FROM async_jobs WHERE cmd='HA.restart' AND instance_uuid=? ORDER BY id DESC LIMIT 1`).pluck().get(vm['id']) as string;
    const job = (await t.call('queryAsyncJobResult', { jobid: restart })).body as { jobresult: { virtualmachine: { placement: { hosts: { hostName: string; suitable: boolean; reason: string }[] } } } };
    expect(job.jobresult.virtualmachine.placement.hosts.find((h) => h.hostName === host)).toMatchObject({ suitable: false, reason: 'host is Down' });
    expect((await t.call('listHosts', { name: host })).body['host']).toMatchObject([{ state: 'Down' }]);
    // The host returns: whatever it still had is not running there.
    t.engine.simulator.setHostUp(host, true);
    await t.engine.background.ha.pass();
    const running = ['sim-host-1', 'sim-host-2', 'sim-host-3'].filter((h) => Object.entries(t.engine.simulator.world.find(h)!.domains).some(([n, d]) => n === simDomain(vm['id']!).internal_name && d.power === 'Running'));
    expect(running).toHaveLength(1);
    // …and its stale shut-off copy is undefined there, so only the VM's current host defines it.
    const definedOn = () => ['sim-host-1', 'sim-host-2', 'sim-host-3'].filter((h) => simDomain(vm['id']!).internal_name in t.engine.simulator.world.find(h)!.domains);
    expect(definedOn()).toEqual([simDomain(vm['id']!).host]);
  });
});
