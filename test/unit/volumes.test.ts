/**
 * Data volumes on the simulator (issue 12): createVolume, attachVolume / detachVolume (live and
 * stopped), resizeVolume (grow; shrink only with shrinkok), deleteVolume and listVolumes' states.
 * Each refusal is a 431 (or 531) naming the parameter and writes nothing; a host that refuses
 * leaves the volume as it was, and a deleted disk on a host that cannot be reached is owed.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dbFingerprint, demoIds, deployDemo, simDomain, testEngine, type TestEngine } from '../helpers/engine.js';
import type { Caller } from '../../main/engine/registry/types.js';
import { runHostCleanups } from '../../main/engine/vm/host-cleanups.js';

const GiB = 1024 ** 3;
let t: TestEngine;
let ids: ReturnType<typeof demoIds>;
let alice: Caller;
let bob: Caller;
let customOffering: string;

interface Volume { id: string; name: string; type: string; state: string; size: number; deviceid?: number; virtualmachineid?: string; vmname?: string; path?: string; attached?: string; account: string }

function userOf(name: string): Caller {
  const domainId = (t.engine.db.prepare(`SELECT id FROM domains WHERE path='/'`).get() as { id: number }).id;
  const { userId } = t.engine.accounts.createAccount({ name, role: 'User', domainId, username: name, password: 'secret-pw' });
  return t.engine.accounts.byUserId(userId)!;
}

/** Runs an async volume command; answers the job's volume, or its error as {status, text}. */
async function job(command: string, params: Record<string, string>, caller: Caller = t.admin): Promise<{ status: number; text: string; volume?: Volume }> {
  const res = await t.call(command, params, caller);
  if (res.status !== 200) return { status: res.status, text: String(res.body['errortext']) };
  const done = await t.engine.jobs.wait(res.body['jobid'] as string);
  const result = done['jobresult'] as { volume?: Volume; errorcode?: number; errortext?: string };
  return done['jobstatus'] === 1 ? { status: 200, text: '', volume: result.volume } : { status: result.errorcode ?? 530, text: String(result.errortext) };
}

async function newVolume(caller: Caller = alice, size = '2', name?: string): Promise<Volume> {
  const made = await job('createVolume', { zoneid: ids.zoneid, diskofferingid: customOffering, size, ...(name ? { name } : {}) }, caller);
  expect(made.status, made.text).toBe(200);
  return made.volume!;
}

async function listed(params: Record<string, string>, caller: Caller = t.admin): Promise<Volume[]> {
  return ((await t.call('listVolumes', params, caller)).body['volume'] as Volume[] | undefined) ?? [];
}

function diskNames(vmId: string): string[] {
  return simDomain(t, vmId).domain.spec.disks.map((d) => d.name);
}

beforeAll(async () => {
  t = await testEngine();
  ids = demoIds(t.engine);
  alice = userOf('alice');
  bob = userOf('bob');
  customOffering = (t.engine.db.prepare(`SELECT uuid FROM disk_offerings WHERE name='Custom'`).get() as { uuid: string }).uuid;
});
afterAll(() => t.close());

describe('createVolume', () => {
  it('creates an Allocated data volume of the custom size; listVolumes shows it with no VM', async () => {
    const v = await newVolume(alice, '3', 'scratch');
    expect(v).toMatchObject({ name: 'scratch', type: 'DATADISK', state: 'Allocated', size: 3 * GiB, account: 'alice' });
    expect(v.virtualmachineid).toBeUndefined();
    expect((await listed({ id: v.id }, alice)).map((x) => x.state)).toEqual(['Allocated']);
    expect((await listed({ state: 'allocated' }, alice)).map((x) => x.id)).toContain(v.id);
    // A fixed offering has its own size.
    const fixed = await job('createVolume', { zoneid: ids.zoneid, diskofferingid: ids.diskSmall }, alice);
    expect(fixed.volume).toMatchObject({ size: 5 * GiB, state: 'Allocated' });
  });

  it('refuses a bad size or zone with 431 naming the parameter, writing nothing', async () => {
    const before = dbFingerprint(t.engine);
    const refusals: [Record<string, string>, RegExp][] = [
      [{ zoneid: ids.zoneid, diskofferingid: customOffering }, /^size: disk offering Custom is custom; give size/],
      [{ zoneid: ids.zoneid, diskofferingid: customOffering, size: '0' }, /^size: "0" is not a volume size in GiB: a whole number from 1 to 1024/],
      [{ zoneid: ids.zoneid, diskofferingid: customOffering, size: '5000' }, /^size: "5000" is not a volume size in GiB/],
      [{ zoneid: ids.zoneid, diskofferingid: ids.diskSmall, size: '9' }, /^size: disk offering Small has a fixed size of 5 GiB/],
      [{ diskofferingid: customOffering, size: '1' }, /^zoneid: /],
      [{ zoneid: ids.zoneid, diskofferingid: ids.zoneid, size: '1' }, /diskofferingid/],
    ];
    for (const [params, text] of refusals) {
      const res = await t.call('createVolume', params, alice);
      expect(res.status, JSON.stringify(params)).toBe(431);
      expect(String(res.body['errortext'])).toMatch(text);
    }
    expect(dbFingerprint(t.engine)).toBe(before);
  });

  it('listVolumes refuses an unknown state with 431', async () => {
    const res = await t.call('listVolumes', { state: 'Floating' });
    expect(res.status).toBe(431);
    expect(String(res.body['errortext'])).toMatch(/^state: one of Allocated, Creating, Ready, Attaching/);
  });
});

describe('attachVolume and detachVolume', () => {
  it('attaches live to a running VM (Ready, device 1, in the domain), detaches live (the disk stays), and attaches again', async () => {
    const vm = await deployDemo(t, { name: 'live-disks' }, alice);
    const v = await newVolume(alice, '2', 'live-data');
    const attached = await job('attachVolume', { id: v.id, virtualmachineid: vm['id']! }, alice);
    expect(attached.status, attached.text).toBe(200);
    expect(attached.volume).toMatchObject({ state: 'Ready', deviceid: 1, virtualmachineid: vm['id'], vmname: 'live-disks' });
    expect(attached.volume!.attached).toBeDefined();
    const path = (await listed({ id: v.id }))[0]!.path!;
    expect(path).toBe(`${v.id}.qcow2`);
    expect(diskNames(vm['id']!)).toContain(path);
    expect((await listed({ virtualmachineid: vm['id']! }, alice)).map((x) => `${x.type}:${x.deviceid}`)).toEqual(['ROOT:0', 'DATADISK:1']);

    const detached = await job('detachVolume', { id: v.id }, alice);
    expect(detached.status, detached.text).toBe(200);
    expect(detached.volume).toMatchObject({ state: 'Ready' });
    expect(detached.volume!.virtualmachineid).toBeUndefined();
    expect(diskNames(vm['id']!)).not.toContain(path);
    expect(t.engine.simulator.world.disks[path]).toBeDefined();

    // Again, by device id this time for the detach.
    expect((await job('attachVolume', { id: v.id, virtualmachineid: vm['id']!, deviceid: '3' }, alice)).volume).toMatchObject({ deviceid: 3, state: 'Ready' });
    expect((await job('detachVolume', { virtualmachineid: vm['id']!, deviceid: '3' }, alice)).volume).toMatchObject({ state: 'Ready' });
  });

  it('attaches to a stopped VM into its definition, and the disk is there after the next start', async () => {
    const vm = await deployDemo(t, { name: 'stopped-disks' }, alice);
    await t.run('stopVirtualMachine', { id: vm['id']! }, alice);
    const v = await newVolume(alice, '1');
    const attached = await job('attachVolume', { id: v.id, virtualmachineid: vm['id']! }, alice);
    expect(attached.volume).toMatchObject({ state: 'Ready', vmstate: 'Stopped' });
    expect(diskNames(vm['id']!)).toContain(`${v.id}.qcow2`);
    await t.run('startVirtualMachine', { id: vm['id']! }, alice);
    expect(diskNames(vm['id']!)).toContain(`${v.id}.qcow2`);
    await t.run('stopVirtualMachine', { id: vm['id']! }, alice);
    expect((await job('detachVolume', { id: v.id }, alice)).volume).toMatchObject({ state: 'Ready' });
    expect(diskNames(vm['id']!)).not.toContain(`${v.id}.qcow2`);
  });

  it('attaches to a VM never started in the database only; its first start makes the disk', async () => {
    const vm = await deployDemo(t, { name: 'not-started', startvm: 'false' }, alice);
    const v = await newVolume(alice, '1');
    expect((await job('attachVolume', { id: v.id, virtualmachineid: vm['id']! }, alice)).volume).toMatchObject({ state: 'Allocated', deviceid: 1 });
    expect(t.engine.simulator.world.disks[`${v.id}.qcow2`]).toBeUndefined();
    await t.run('startVirtualMachine', { id: vm['id']! }, alice);
    expect((await listed({ id: v.id }))[0]).toMatchObject({ state: 'Ready' });
    expect(t.engine.simulator.world.disks[`${v.id}.qcow2`]).toBeDefined();
  });

  it('refuses attach and detach with 431 naming the parameter, writing nothing', async () => {
    const vm = await deployDemo(t, { name: 'refusals' }, alice);
    const bobVm = await deployDemo(t, { name: 'bobs-vm' }, bob);
    const mine = await newVolume(alice, '1');
    const bobs = await newVolume(bob, '1');
    const attachedOne = await newVolume(alice, '1');
    expect((await job('attachVolume', { id: attachedOne.id, virtualmachineid: vm['id']! }, alice)).status).toBe(200);
    const root = (await listed({ virtualmachineid: vm['id']!, type: 'ROOT' }))[0]!;
    const before = dbFingerprint(t.engine);
    const refusals: [string, Record<string, string>, Caller, number, RegExp][] = [
      ['attachVolume', { id: root.id, virtualmachineid: vm['id']! }, alice, 431, /^id: volume ROOT-\d+ is a ROOT volume; only data disks can be attached/],
      ['attachVolume', { id: attachedOne.id, virtualmachineid: vm['id']! }, alice, 431, /^id: volume .* is already attached to VM refusals/],
      ['attachVolume', { id: mine.id, virtualmachineid: vm['id']!, deviceid: '1' }, alice, 431, /^deviceid: VM refusals already has a disk at device 1/],
      ['attachVolume', { id: mine.id, virtualmachineid: vm['id']!, deviceid: '0' }, alice, 431, /^deviceid: 0 is outside 1\.\.15/],
      // A volume belongs to one account: the admin cannot give bob's volume to alice's VM.
      ['attachVolume', { id: bobs.id, virtualmachineid: vm['id']! }, t.admin, 431, /^virtualmachineid: volume .* and VM refusals belong to different accounts/],
      // And a user cannot reach another account's VM or volume at all.
      ['attachVolume', { id: mine.id, virtualmachineid: bobVm['id']! }, alice, 531, /does not have permission/],
      ['attachVolume', { id: bobs.id, virtualmachineid: vm['id']! }, alice, 531, /does not have permission/],
      ['detachVolume', { id: mine.id }, alice, 431, /^id: volume .* is not attached to any VM/],
      ['detachVolume', { id: root.id }, alice, 431, /^id: volume ROOT-\d+ is the ROOT disk of VM refusals; only data disks can be detached/],
      ['detachVolume', { virtualmachineid: vm['id']!, deviceid: '7' }, alice, 431, /^deviceid: VM refusals has no disk at device 7/],
      ['detachVolume', {}, alice, 431, /^id: give the volume id, or virtualmachineid with deviceid/],
      ['deleteVolume', { id: attachedOne.id }, alice, 431, /^id: volume .* is attached to VM refusals .*; detach it first/],
    ];
    for (const [command, params, caller, status, text] of refusals) {
      const res = await t.call(command, params, caller);
      expect(res.status, `${command} ${JSON.stringify(params)}: ${JSON.stringify(res.body)}`).toBe(status);
      expect(String(res.body['errortext'])).toMatch(text);
    }
    expect(dbFingerprint(t.engine)).toBe(before);
  });

  it('R35: no attach or detach while the VM has VM snapshots', async () => {
    const vm = await deployDemo(t, { name: 'snapped' }, alice);
    const onIt = await newVolume(alice, '1');
    expect((await job('attachVolume', { id: onIt.id, virtualmachineid: vm['id']! }, alice)).status).toBe(200);
    await t.run('createVMSnapshot', { virtualmachineid: vm['id']!, name: 'before' }, alice);
    const spare = await newVolume(alice, '1');
    const before = dbFingerprint(t.engine);
    const attach = await t.call('attachVolume', { id: spare.id, virtualmachineid: vm['id']! }, alice);
    expect(attach.status).toBe(431);
    expect(String(attach.body['errortext'])).toMatch(/^virtualmachineid: VM snapped has 1 VM snapshot; its volumes cannot change while they exist/);
    const detach = await t.call('detachVolume', { id: onIt.id }, alice);
    expect(detach.status).toBe(431);
    expect(String(detach.body['errortext'])).toMatch(/^id: VM snapped has 1 VM snapshot/);
    const resize = await t.call('resizeVolume', { id: onIt.id, size: '4' }, alice);
    expect(resize.status).toBe(431);
    expect(String(resize.body['errortext'])).toMatch(/^id: VM snapped has 1 VM snapshot/);
    expect(dbFingerprint(t.engine)).toBe(before);
  });

  it('R57: no attach or detach while the VM has backups', async () => {
    const vm = await deployDemo(t, { name: 'backed-up' }, alice);
    const onIt = await newVolume(alice, '1');
    expect((await job('attachVolume', { id: onIt.id, virtualmachineid: vm['id']! }, alice)).status).toBe(200);
    const spare = await newVolume(alice, '1');
    const backupId = addBackup(vm['id']!);
    const before = dbFingerprint(t.engine);
    const attach = await t.call('attachVolume', { id: spare.id, virtualmachineid: vm['id']! }, alice);
    expect(attach.status).toBe(431);
    expect(String(attach.body['errortext'])).toMatch(/^virtualmachineid: VM backed-up has 1 backup; volumes cannot be added to or removed from a VM with backups/);
    const detach = await t.call('detachVolume', { id: onIt.id }, alice);
    expect(detach.status).toBe(431);
    expect(String(detach.body['errortext'])).toMatch(/^id: VM backed-up has 1 backup/);
    expect(dbFingerprint(t.engine)).toBe(before);
    // It takes effect only while the backup exists.
    t.engine.db.prepare(`UPDATE backups SET removed=? WHERE id=?`).run(new Date().toISOString(), backupId);
    expect((await job('attachVolume', { id: spare.id, virtualmachineid: vm['id']! }, alice)).status).toBe(200);
  });

  it('refuses a detach from a VM in a transient state with 431 naming the state', async () => {
    const vm = await deployDemo(t, { name: 'busy-vm' }, alice);
    const v = await newVolume(alice, '1');
    expect((await job('attachVolume', { id: v.id, virtualmachineid: vm['id']! }, alice)).status).toBe(200);
    for (const state of ['Starting', 'Stopping', 'Migrating']) {
      t.engine.db.prepare('UPDATE vm_instances SET state=? WHERE uuid=?').run(state, vm['id']);
      const res = await t.call('detachVolume', { id: v.id }, alice);
      expect(res.status).toBe(431);
      expect(String(res.body['errortext'])).toMatch(new RegExp(`^id: VM busy-vm \\(.*\\) is ${state}; a data disk is detached from a VM only while it is Created, Running, Stopped`));
    }
    t.engine.db.prepare(`UPDATE vm_instances SET state='Running' WHERE uuid=?`).run(vm['id']);
    // The listApis entry says so too, for the UI's gates.
    const apis = (await t.call('listApis', { name: 'detachVolume' })).body['api'] as { vmstates: string[]; capabilities: string[] }[];
    expect(apis[0]).toMatchObject({ vmstates: ['Created', 'Running', 'Stopped'], capabilities: ['volumes'] });
  });

  it("decides by the host's published capability: a host without the volume facet is refused before any job", async () => {
    const vm = await deployDemo(t, { name: 'no-facet-host' }, alice);
    const v = await newVolume(alice, '1');
    const hostId = (t.engine.db.prepare('SELECT host_id FROM vm_instances WHERE uuid=?').get(vm['id']) as { host_id: number }).host_id;
    const caps = (t.engine.db.prepare('SELECT capabilities FROM hosts WHERE id=?').get(hostId) as { capabilities: string }).capabilities;
    expect(JSON.parse(caps)).toMatchObject({ volumes: true });
    t.engine.db.prepare('UPDATE hosts SET capabilities=? WHERE id=?').run(JSON.stringify({ ...JSON.parse(caps), volumes: false }), hostId);
    try {
      const before = dbFingerprint(t.engine);
      const res = await t.call('attachVolume', { id: v.id, virtualmachineid: vm['id']! }, alice);
      expect(res.status).toBe(431);
      expect(String(res.body['errortext'])).toMatch(/^virtualmachineid: the hypervisor of host \S+ \(VM no-facet-host\) cannot attach, detach or resize data disks/);
      expect(dbFingerprint(t.engine)).toBe(before);
    } finally {
      t.engine.db.prepare('UPDATE hosts SET capabilities=? WHERE id=?').run(caps, hostId);
    }
  });

  it('a host that refuses the attach leaves the volume as it was: not attached, no disk made', async () => {
    const vm = await deployDemo(t, { name: 'refusing-host' }, alice);
    const v = await newVolume(alice, '1');
    const disksBefore = diskNames(vm['id']!);
    const row = () => JSON.stringify(t.engine.db.prepare('SELECT * FROM volumes WHERE uuid=?').get(v.id));
    const rowBefore = row();
    t.engine.simulator.failNext('volume', { message: 'libvirt: unable to attach disk' });
    const failed = await job('attachVolume', { id: v.id, virtualmachineid: vm['id']! }, alice);
    expect(failed.status).toBe(530);
    expect(failed.text).toMatch(/^libvirt: unable to attach disk/);
    const after = (await listed({ id: v.id }))[0]!;
    expect(after.state).toBe('Allocated');
    expect(after.virtualmachineid).toBeUndefined();
    expect(t.engine.simulator.world.disks[`${v.id}.qcow2`]).toBeUndefined();
    expect(diskNames(vm['id']!)).toEqual(disksBefore);
    expect(row()).toBe(rowBefore);
    const events = (await t.call('listEvents', { type: 'VOLUME.ATTACH', level: 'ERROR' })).body['event'] as { description: string }[];
    expect(events.map((e) => e.description).join('\n')).toMatch(/attach to VM refusing-host failed, the volume is Allocated and not attached: libvirt: unable to attach disk/);
    // And a detach the host refuses leaves it attached.
    expect((await job('attachVolume', { id: v.id, virtualmachineid: vm['id']! }, alice)).status).toBe(200);
    t.engine.simulator.failNext('volume', { message: 'guest did not release the disk' });
    expect((await job('detachVolume', { id: v.id }, alice)).status).toBe(530);
    expect((await listed({ id: v.id }))[0]).toMatchObject({ state: 'Ready', virtualmachineid: vm['id'] });
    expect(diskNames(vm['id']!)).toContain(`${v.id}.qcow2`);
  });
});

describe('resizeVolume', () => {
  it('grows a volume live on a running VM, refuses a shrink without shrinkok, and shrinks with it', async () => {
    const vm = await deployDemo(t, { name: 'resized' }, alice);
    const v = await newVolume(alice, '2');
    expect((await job('attachVolume', { id: v.id, virtualmachineid: vm['id']! }, alice)).status).toBe(200);
    const grown = await job('resizeVolume', { id: v.id, size: '4' }, alice);
    expect(grown.volume).toMatchObject({ size: 4 * GiB, state: 'Ready' });
    expect(simDomain(t, vm['id']!).domain.spec.disks.find((d) => d.name === `${v.id}.qcow2`)!.sizeBytes).toBe(4 * GiB);
    const before = dbFingerprint(t.engine);
    const shrink = await t.call('resizeVolume', { id: v.id, size: '3' }, alice);
    expect(shrink.status).toBe(431);
    expect(String(shrink.body['errortext'])).toMatch(/^size: 3 GiB is smaller than volume .* \(4 GiB\); shrinking loses data, give shrinkok=true/);
    const same = await t.call('resizeVolume', { id: v.id, size: '4' }, alice);
    expect(String(same.body['errortext'])).toMatch(/^size: volume .* is already 4 GiB/);
    const fixed = await t.call('resizeVolume', { id: v.id, diskofferingid: ids.diskSmall, size: '7' }, alice);
    expect(String(fixed.body['errortext'])).toMatch(/^size: disk offering Small has a fixed size of 5 GiB/);
    expect(dbFingerprint(t.engine)).toBe(before);
    expect((await job('resizeVolume', { id: v.id, size: '3', shrinkok: 'true' }, alice)).volume).toMatchObject({ size: 3 * GiB });
    // To a fixed-size offering: its size and name.
    expect((await job('resizeVolume', { id: v.id, diskofferingid: ids.diskSmall }, alice)).volume).toMatchObject({ size: 5 * GiB, diskofferingname: 'Small' });
    const again = await t.call('resizeVolume', { id: v.id, size: '9' }, alice);
    expect(String(again.body['errortext'])).toMatch(/^size: volume .* has the fixed-size disk offering Small; give diskofferingid/);
  });

  it('resizes an Allocated volume in the database and a detached Ready one on its host; a host that refuses keeps the size', async () => {
    const v = await newVolume(alice, '1');
    expect((await job('resizeVolume', { id: v.id, size: '2' }, alice)).volume).toMatchObject({ size: 2 * GiB, state: 'Allocated' });
    const vm = await deployDemo(t, { name: 'resize-host' }, alice);
    expect((await job('attachVolume', { id: v.id, virtualmachineid: vm['id']! }, alice)).status).toBe(200);
    expect((await job('detachVolume', { id: v.id }, alice)).status).toBe(200);
    expect((await job('resizeVolume', { id: v.id, size: '3' }, alice)).volume).toMatchObject({ size: 3 * GiB, state: 'Ready' });
    t.engine.simulator.failNext('volume', { message: 'qemu-img: resize failed' });
    const refused = await job('resizeVolume', { id: v.id, size: '6' }, alice);
    expect(refused.status).toBe(530);
    expect(refused.text).toMatch(/^qemu-img: resize failed/);
    expect((await listed({ id: v.id }))[0]).toMatchObject({ size: 3 * GiB, state: 'Ready' });
  });
});

describe('deleteVolume', () => {
  it('deletes a detached volume and its disk; an Allocated one has no disk to delete', async () => {
    const vm = await deployDemo(t, { name: 'delete-from' }, alice);
    const v = await newVolume(alice, '1');
    expect((await job('attachVolume', { id: v.id, virtualmachineid: vm['id']! }, alice)).status).toBe(200);
    expect((await job('detachVolume', { id: v.id }, alice)).status).toBe(200);
    expect(t.engine.simulator.world.disks[`${v.id}.qcow2`]).toBeDefined();
    const res = await t.call('deleteVolume', { id: v.id }, alice);
    expect(res).toMatchObject({ status: 200, body: { success: 'true' } });
    expect(t.engine.simulator.world.disks[`${v.id}.qcow2`]).toBeUndefined();
    expect(await listed({ id: v.id }, alice)).toEqual([]);
    expect((await t.call('deleteVolume', { id: v.id }, alice)).status).toBe(431);
    const allocated = await newVolume(alice, '1');
    expect((await t.call('deleteVolume', { id: allocated.id }, alice)).status).toBe(200);
    const usage = t.engine.db.prepare(`SELECT COUNT(*) AS n FROM usage_events WHERE type='VOLUME.DELETE' AND resource_id=(SELECT id FROM volumes WHERE uuid=?)`).get(v.id) as { n: number };
    expect(usage.n).toBe(1);
  });

  it("a disk whose host cannot be reached is owed: the volume goes, and the disk when the host answers", async () => {
    const vm = await deployDemo(t, { name: 'owed-disk' }, alice);
    const v = await newVolume(alice, '1');
    expect((await job('attachVolume', { id: v.id, virtualmachineid: vm['id']! }, alice)).status).toBe(200);
    expect((await job('detachVolume', { id: v.id }, alice)).status).toBe(200);
    const host = simDomain(t, vm['id']!).host;
    const hostId = (t.engine.db.prepare('SELECT id FROM hosts WHERE name=?').get(host) as { id: number }).id;
    t.engine.simulator.setHostUp(host, false);
    await t.engine.hosts.drop(hostId);
    expect((await t.call('deleteVolume', { id: v.id }, alice)).status).toBe(200);
    expect(await listed({ id: v.id }, alice)).toEqual([]);
    expect(t.engine.simulator.world.disks[`${v.id}.qcow2`]).toBeDefined();
    t.engine.simulator.setHostUp(host, true);
    expect(await runHostCleanups(t.engine)).toBeGreaterThanOrEqual(1);
    expect(t.engine.simulator.world.disks[`${v.id}.qcow2`]).toBeUndefined();
  });
});

describe('data disks outlive their VM', () => {
  it('expunge detaches a data disk (Ready, on its host) and destroy deletes only those named in volumeids', async () => {
    const vm = await deployDemo(t, { name: 'short-lived' }, alice);
    const kept = await newVolume(alice, '1', 'kept-disk');
    const doomed = await newVolume(alice, '1', 'doomed-disk');
    for (const v of [kept, doomed]) expect((await job('attachVolume', { id: v.id, virtualmachineid: vm['id']! }, alice)).status).toBe(200);
    const destroyed = await t.run('destroyVirtualMachine', { id: vm['id']!, expunge: 'true', volumeids: doomed.id });
    expect(destroyed['jobstatus']).toBe(1);
    const after = (await listed({ id: kept.id }, alice))[0]!;
    expect(after).toMatchObject({ name: 'kept-disk', state: 'Ready' });
    expect(after.virtualmachineid).toBeUndefined();
    expect(t.engine.simulator.world.disks[`${kept.id}.qcow2`]).toBeDefined();
    expect(await listed({ id: doomed.id }, alice)).toEqual([]);
    expect(t.engine.simulator.world.disks[`${doomed.id}.qcow2`]).toBeUndefined();
    // Still usable: onto another VM, then deleted with its disk.
    const next = await deployDemo(t, { name: 'second-home' }, alice);
    expect((await job('attachVolume', { id: kept.id, virtualmachineid: next['id']! }, alice)).volume).toMatchObject({ state: 'Ready', vmname: 'second-home' });
    expect((await job('detachVolume', { id: kept.id }, alice)).status).toBe(200);
    expect((await t.call('deleteVolume', { id: kept.id }, alice)).status).toBe(200);
    expect(t.engine.simulator.world.disks[`${kept.id}.qcow2`]).toBeUndefined();
  });
});

describe('after a restart', () => {
  it('Kiln opening settles volumes a dead process left Attaching, Creating, Resizing or Expunging, each with an ERROR event', async () => {
    const first = await testEngine({ keep: true });
    const admin = first.admin;
    const vm = await deployDemo(first, { name: 'crashed-attach' });
    const offering = (first.engine.db.prepare(`SELECT uuid FROM disk_offerings WHERE name='Custom'`).get() as { uuid: string }).uuid;
    const zoneid = demoIds(first.engine).zoneid;
    const made: string[] = [];
    for (const name of ['was-attaching', 'was-creating', 'was-resizing', 'was-expunging']) {
      const job = await first.run('createVolume', { zoneid, diskofferingid: offering, size: '1', name }, admin);
      made.push((job['jobresult'] as { volume: { id: string } }).volume.id);
    }
    const [a, c, r, x] = made as [string, string, string, string];
    const row = first.engine.db.prepare('SELECT id, host_id FROM vm_instances WHERE uuid=?').get(vm['id']) as { id: number; host_id: number };
    const set = first.engine.db.prepare('UPDATE volumes SET state=?, vm_id=?, device_id=?, path=?, host_id=? WHERE uuid=?');
    set.run('Attaching', row.id, 1, `${a}.qcow2`, null, a);
    set.run('Creating', row.id, 2, `${c}.qcow2`, null, c);
    set.run('Resizing', null, 0, `${r}.qcow2`, row.host_id, r);
    set.run('Expunging', null, 0, `${x}.qcow2`, row.host_id, x);
    await first.close();
    const again = await testEngine({ dataDir: first.dataDir });
    try {
      const list = async (params: Record<string, string>) => ((await again.call('listVolumes', params)).body['volume'] as Volume[] | undefined) ?? [];
      const states = Object.fromEntries([...(await list({ virtualmachineid: vm['id']! })), ...(await list({ id: r }))].map((v) => [v.name, `${v.state}:${v.virtualmachineid ? 'attached' : 'free'}`]));
      expect(states).toMatchObject({ 'was-attaching': 'Ready:attached', 'was-creating': 'Ready:attached', 'was-resizing': 'Ready:free' });
      expect(await list({ id: x })).toEqual([]);
      expect(again.engine.db.prepare(`SELECT COUNT(*) AS n FROM host_cleanups WHERE disks LIKE ?`).get(`%${x}%`)).toEqual({ n: 1 });
      const events = ((await again.call('listEvents', { level: 'ERROR', keyword: 'interrupted' })).body['event'] as { description: string }[]).map((e) => e.description).join('\n');
      for (const name of ['was-attaching', 'was-creating', 'was-resizing', 'was-expunging']) expect(events).toContain(`volume ${name}: `);
    } finally {
      await again.close();
    }
  });
});

describe('a disk lives in one cluster\'s storage', () => {
  it('a Ready volume joins only a VM of its cluster, nor a never-started VM when the zone has another cluster', async () => {
    const podid = (t.engine.db.prepare('SELECT uuid FROM pods LIMIT 1').get() as { uuid: string }).uuid;
    const other = ((await t.call('addCluster', { zoneid: ids.zoneid, podid, clustername: 'Other Cluster', hypervisor: 'Simulator' })).body['cluster'] as { id: string }).id;
    expect((await t.call('addHost', { zoneid: ids.zoneid, podid, clusterid: other, hypervisor: 'Simulator', url: 'simulator://sim-other' })).status).toBe(200);
    const home = await deployDemo(t, { name: 'disk-home', clusterid: (t.engine.db.prepare(`SELECT uuid FROM clusters WHERE name='Demo Cluster'`).get() as { uuid: string }).uuid });
    const away = await deployDemo(t, { name: 'disk-away', clusterid: other });
    const fresh = await deployDemo(t, { name: 'disk-fresh', startvm: 'false' });
    const v = await newVolume(t.admin, '1', 'cluster-bound');
    expect((await job('attachVolume', { id: v.id, virtualmachineid: home['id']! })).status).toBe(200);
    expect((await job('detachVolume', { id: v.id })).volume).toMatchObject({ state: 'Ready' });
    const before = dbFingerprint(t.engine);
    const refusals: [string, RegExp][] = [
      [away['id']!, /^virtualmachineid: the disk of volume cluster-bound is in the storage of cluster Demo Cluster; VM disk-away is in cluster Other Cluster/],
      [fresh['id']!, /^virtualmachineid: VM disk-fresh has not been started yet, and the disk of volume cluster-bound is in the storage of cluster Demo Cluster only/],
    ];
    for (const [vm, text] of refusals) {
      const res = await t.call('attachVolume', { id: v.id, virtualmachineid: vm });
      expect(res.status).toBe(431);
      expect(String(res.body['errortext'])).toMatch(text);
    }
    expect(dbFingerprint(t.engine)).toBe(before);
  });
});

/** A backup of the VM, in whichever backups table this Kiln has (helper G's, or a minimal one). */
function addBackup(vmUuid: string): number {
  const db = t.engine.db;
  const vm = db.prepare('SELECT id, account_id, domain_id, zone_id FROM vm_instances WHERE uuid=?').get(vmUuid) as { id: number; account_id: number; domain_id: number; zone_id: number };
  const columns = (db.prepare(`SELECT name FROM pragma_table_info('backups')`).all() as { name: string }[]).map((c) => c.name);
  const stamp = new Date().toISOString();
  if (columns.length === 0) {
    db.exec('CREATE TABLE backups (id INTEGER PRIMARY KEY, vm_id INTEGER NOT NULL, removed TEXT)');
    return Number(db.prepare('INSERT INTO backups (vm_id) VALUES (?)').run(vm.id).lastInsertRowid);
  }
  const offering = Number(
    db.prepare(`INSERT INTO backup_offerings (uuid, name, description, external_id, provider, zone_id, created) VALUES (?,?,?,?,?,?,?)`).run(`bo-${stamp}`, `offering-${stamp}`, 'test', 'x', 'dummy', vm.zone_id, stamp).lastInsertRowid,
  );
  return Number(
    db
      .prepare(`INSERT INTO backups (uuid, name, vm_id, offering_id, provider, status, account_id, domain_id, zone_id, created) VALUES (?,?,?,?,?,?,?,?,?,?)`)
      .run(`b-${stamp}`, 'b1', vm.id, offering, 'dummy', 'BackedUp', vm.account_id, vm.domain_id, vm.zone_id, stamp).lastInsertRowid,
  );
}
