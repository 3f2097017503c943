/**
 * Every failure of deploy, start, stop, migrate, scale, snapshot, destroy and expunge ends in a
 * settled state (the previous one, Stopped, or Error) with an ERROR event carrying the job's error
 * text, and leaves nothing on a host that Kiln no longer knows. Failures are injected with the
 * simulator's failNext hook; in-job placement failure comes from deploys racing for the last room.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testEngine, demoIds, dbFingerprint, deployDemo, type TestEngine } from '../helpers/engine.js';

let t: TestEngine;
let ids: ReturnType<typeof demoIds>;
const HOSTS = ['sim-host-1', 'sim-host-2', 'sim-host-3'];

beforeAll(async () => {
  t = await testEngine();
  ids = demoIds(t.engine);
});
afterAll(() => t.close());

function row(vmId: string) {
  return t.engine.db.prepare('SELECT v.*, h.name AS host_name, lh.name AS last_host_name FROM vm_instances v LEFT JOIN hosts h ON h.id=v.host_id LEFT JOIN hosts lh ON lh.id=v.last_host_id WHERE v.uuid=?').get(vmId) as {
    id: number; state: string; internal_name: string; host_name: string | null; last_host_name: string | null; service_offering_id: number; memory: number;
  };
}

/** The hosts on which the VM's domain is defined, and whether any of its disks are still on primary storage. */
function onHosts(vmId: string) {
  const r = row(vmId);
  const disks = (t.engine.db.prepare('SELECT path FROM volumes WHERE vm_id=?').all(r.id) as { path: string }[]).map((d) => d.path);
  return {
    definedOn: HOSTS.filter((h) => r.internal_name in (t.engine.simulator.world.find(h)?.domains ?? {})),
    disks: disks.filter((d) => d in t.engine.simulator.world.disks),
  };
}

async function errorEvents(vmId: string) {
  const res = await t.call('listEvents', { resourceid: vmId, level: 'ERROR' });
  return (res.body['event'] as { type: string; description: string; level: string }[] | undefined) ?? [];
}

/** The job failed, and an ERROR event of the VM carries the job's error text. */
async function expectFailure(job: Record<string, unknown>, vmId: string, text: RegExp) {
  expect(job['jobstatus']).toBe(2);
  const errortext = String((job['jobresult'] as { errortext: string }).errortext);
  expect(errortext).toMatch(text);
  const events = await errorEvents(vmId);
  expect(events.map((e) => e.description).some((d) => d.includes(errortext))).toBe(true);
  return errortext;
}

function hostOf(vmId: string): string {
  return row(vmId).host_name!;
}

describe('deploy', () => {
  it('placement that fails inside the job leaves the VM in Error with the job\'s error; it can be destroyed and expunged', async () => {
    // Each host holds one of these; the fourth deploy passes the up-front check (nothing is placed
    // yet when all four are asked at once) and finds no room in its job.
    const big = (await t.call('createServiceOffering', { name: 'one-per-host', cpunumber: '1', cpuspeed: '500', memory: '10000' })).body['serviceoffering'] as { id: string };
    const calls = await Promise.all(['race-1', 'race-2', 'race-3', 'race-4'].map((name) => t.call('deployVirtualMachine', { zoneid: ids.zoneid, templateid: ids.templateid, serviceofferingid: big.id, name })));
    expect(calls.map((c) => c.status)).toEqual([200, 200, 200, 200]);
    const jobs = await Promise.all(calls.map((c) => t.engine.jobs.wait(String(c.body['jobid']))));
    const failed = jobs.filter((j) => j['jobstatus'] === 2);
    expect(failed).toHaveLength(1);
    const vmId = String(failed[0]!['jobinstanceid']);
    expect(failed[0]!['jobresultcode']).toBe(533);
    await expectFailure(failed[0]!, vmId, /memory/);
    const listed = ((await t.call('listVirtualMachines', { id: vmId })).body['virtualmachine'] as { state: string }[])[0]!;
    expect(listed.state).toBe('Error');
    expect(jobs.filter((j) => j['jobstatus'] === 1).map((j) => (j['jobresult'] as { virtualmachine: { state: string } }).virtualmachine.state)).toEqual(['Running', 'Running', 'Running']);
    // A VM in Error can be destroyed and expunged.
    const gone = await t.run('destroyVirtualMachine', { id: vmId, expunge: 'true' });
    expect(gone['jobstatus']).toBe(1);
    expect(row(vmId).state).toBe('Expunged');
    for (const j of jobs.filter((x) => x['jobstatus'] === 1)) await t.run('destroyVirtualMachine', { id: String(j['jobinstanceid']), expunge: 'true' });
  });

  it('refuses a GPU offering no host can serve before anything is written (533)', async () => {
    const gpu = (await t.call('createServiceOffering', { name: 'gpu-nowhere', cpunumber: '1', cpuspeed: '500', memory: '512', 'serviceofferingdetails[0].pciDevice': 'Group of NoSuch GPUs', 'serviceofferingdetails[0].vgpuType': 'passthrough' })).body['serviceoffering'] as { id: string };
    const before = dbFingerprint(t.engine);
    const res = await t.call('deployVirtualMachine', { zoneid: ids.zoneid, templateid: ids.templateid, serviceofferingid: gpu.id, name: 'gpu-vm' });
    expect(res.status).toBe(533);
    expect(String(res.body['errortext'])).toMatch(/gpu|GPU/);
    expect(dbFingerprint(t.engine)).toBe(before);
  });

  it('a define the host refuses leaves Error; destroy and expunge leave nothing on the host', async () => {
    t.engine.simulator.failNext('define', { message: 'libvirt: cannot define domain' });
    const res = await t.call('deployVirtualMachine', { zoneid: ids.zoneid, templateid: ids.templateid, serviceofferingid: ids.small, name: 'define-fails' });
    const job = await t.engine.jobs.wait(String(res.body['jobid']));
    const vmId = String(job['jobinstanceid']);
    await expectFailure(job, vmId, /cannot define domain/);
    expect(row(vmId)).toMatchObject({ state: 'Error', host_name: null });
    expect((await t.run('destroyVirtualMachine', { id: vmId, expunge: 'true' }))['jobstatus']).toBe(1);
    expect(row(vmId).state).toBe('Expunged');
    expect(onHosts(vmId)).toEqual({ definedOn: [], disks: [] });
  });

  it('a first start that fails leaves Error with its host recorded, and expunge removes the domain and disks there (no orphan)', async () => {
    t.engine.simulator.failNext('start', { message: 'qemu: could not load kernel /boot/missing' });
    const res = await t.call('deployVirtualMachine', { zoneid: ids.zoneid, templateid: ids.templateid, serviceofferingid: ids.small, name: 'start-fails' });
    const job = await t.engine.jobs.wait(String(res.body['jobid']));
    const vmId = String(job['jobinstanceid']);
    await expectFailure(job, vmId, /could not load kernel/);
    const after = row(vmId);
    expect(after.state).toBe('Error');
    expect(after.host_name).toBeNull();
    // The definition was made: its host is recorded and the domain is there, shut off.
    expect(onHosts(vmId).definedOn).toEqual([after.last_host_name]);
    expect(onHosts(vmId).disks.length).toBeGreaterThan(0);
    expect((await t.run('destroyVirtualMachine', { id: vmId, expunge: 'true' }))['jobstatus']).toBe(1);
    expect(onHosts(vmId)).toEqual({ definedOn: [], disks: [] });
  });
});

describe('start', () => {
  it('a Created VM whose first start fails stays Created with its host recorded; expunge removes what was defined', async () => {
    const vm = await deployDemo(t, { name: 'created-start-fails', startvm: 'false' });
    t.engine.simulator.failNext('start');
    const job = await t.run('startVirtualMachine', { id: vm['id']! });
    await expectFailure(job, vm['id']!, /injected start failure/);
    expect(row(vm['id']!).state).toBe('Created');
    expect(onHosts(vm['id']!).definedOn).toHaveLength(1);
    expect((await t.run('destroyVirtualMachine', { id: vm['id']!, expunge: 'true' }))['jobstatus']).toBe(1);
    expect(onHosts(vm['id']!)).toEqual({ definedOn: [], disks: [] });
  });

  it('a start with no host to go to leaves the VM Stopped, with the job\'s 533 in an event', async () => {
    const vm = await deployDemo(t, { name: 'start-nowhere' });
    await t.run('stopVirtualMachine', { id: vm['id']! });
    const all = t.engine.db.prepare(`SELECT uuid FROM hosts WHERE name LIKE 'sim-host-%'`).all() as { uuid: string }[];
    for (const h of all) await t.call('updateHost', { id: h.uuid, allocationstate: 'Disable' });
    try {
      const job = await t.run('startVirtualMachine', { id: vm['id']! });
      expect(job['jobresultcode']).toBe(533);
      await expectFailure(job, vm['id']!, /sim-host-1/);
      expect(row(vm['id']!).state).toBe('Stopped');
    } finally {
      for (const h of all) await t.call('updateHost', { id: h.uuid, allocationstate: 'Enable' });
    }
  });

  it('a Stopped VM whose start fails is Stopped again', async () => {
    const vm = await deployDemo(t, { name: 'restart-fails' });
    await t.run('stopVirtualMachine', { id: vm['id']! });
    t.engine.simulator.failNext('start');
    await expectFailure(await t.run('startVirtualMachine', { id: vm['id']! }), vm['id']!, /injected start failure/);
    expect(row(vm['id']!)).toMatchObject({ state: 'Stopped', host_name: null });
    expect((await t.run('startVirtualMachine', { id: vm['id']! }))['jobstatus']).toBe(1);
  });
});

describe('stop, migrate, scale, snapshot', () => {
  it('a stop the host refuses leaves the VM Running, as the host reports', async () => {
    const vm = await deployDemo(t, { name: 'stop-fails' });
    t.engine.simulator.failNext('stop', { message: 'libvirt: domain is busy' });
    await expectFailure(await t.run('stopVirtualMachine', { id: vm['id']! }), vm['id']!, /domain is busy/);
    expect(row(vm['id']!).state).toBe('Running');
  });

  it('a stop whose answer is lost after the guest did power off settles Stopped, as the host reports', async () => {
    const vm = await deployDemo(t, { name: 'stop-answer-lost' });
    t.engine.simulator.failNext('stop', { after: true, message: 'ssh: connection reset' });
    const job = await t.run('stopVirtualMachine', { id: vm['id']! });
    expect(job).toMatchObject({ jobstatus: 1, jobresult: { virtualmachine: { state: 'Stopped' } } });
    expect(row(vm['id']!)).toMatchObject({ state: 'Stopped', host_name: null });
  });

  it('a migration the destination refuses leaves the VM Running on its source host', async () => {
    const vm = await deployDemo(t, { name: 'migrate-fails' });
    const source = hostOf(vm['id']!);
    const target = (t.engine.db.prepare(`SELECT uuid FROM hosts WHERE name<>? AND name LIKE 'sim-host-%' LIMIT 1`).get(source) as { uuid: string }).uuid;
    t.engine.simulator.failNext('migrate', { host: source, message: 'libvirt: migration refused by destination' });
    await expectFailure(await t.run('migrateVirtualMachine', { virtualmachineid: vm['id']!, hostid: target }), vm['id']!, /migration refused/);
    expect(row(vm['id']!)).toMatchObject({ state: 'Running', host_name: source });
    expect(onHosts(vm['id']!).definedOn).toEqual([source]);
  });

  it('a migration that fails after the guest moved (its answer lost) settles Running on the destination, where the host says it runs', async () => {
    const vm = await deployDemo(t, { name: 'migrate-answer-lost' });
    const source = hostOf(vm['id']!);
    const target = t.engine.db.prepare(`SELECT uuid, name FROM hosts WHERE name<>? AND name LIKE 'sim-host-%' LIMIT 1`).get(source) as { uuid: string; name: string };
    t.engine.simulator.failNext('migrate', { host: source, after: true, message: 'libvirt: connection to the destination lost' });
    await expectFailure(await t.run('migrateVirtualMachine', { virtualmachineid: vm['id']!, hostid: target.uuid }), vm['id']!, /connection to the destination lost/);
    expect(row(vm['id']!)).toMatchObject({ state: 'Running', host_name: target.name, last_host_name: target.name });
    expect(onHosts(vm['id']!).definedOn).toEqual([target.name]);
  });

  it('a live scale the host refuses leaves the VM Running with its old offering', async () => {
    await t.call('updateConfiguration', { name: 'enable.dynamic.scale.vm', value: 'true', zoneid: ids.zoneid });
    const vm = await deployDemo(t, { name: 'scale-fails' });
    const before = row(vm['id']!);
    const retries = t.engine.settings.int('scale.retry');
    t.engine.simulator.failNext('scale', { message: 'libvirt: cannot set memory', times: retries + 1 });
    const bigger = (await t.call('createServiceOffering', { name: 'scale-target', cpunumber: '2', cpuspeed: '500', memory: '1024', dynamicscalingenabled: 'true' })).body['serviceoffering'] as { id: string };
    await expectFailure(await t.run('scaleVirtualMachine', { id: vm['id']!, serviceofferingid: bigger.id }), vm['id']!, /cannot set memory/);
    expect(row(vm['id']!)).toMatchObject({ state: 'Running', service_offering_id: before.service_offering_id, memory: before.memory });
  });

  it('a snapshot the host refuses leaves the VM Running and no snapshot listed', async () => {
    const vm = await deployDemo(t, { name: 'snapshot-fails' });
    t.engine.simulator.failNext('snapshot', { message: 'qemu: snapshot failed' });
    const job = await t.run('createVMSnapshot', { virtualmachineid: vm['id']!, snapshotmemory: 'true' });
    expect(job['jobstatus']).toBe(2);
    expect(String((job['jobresult'] as { errortext: string }).errortext)).toMatch(/snapshot failed/);
    expect(row(vm['id']!).state).toBe('Running');
    expect((await t.call('listVMSnapshot', { virtualmachineid: vm['id']! })).body['vmSnapshot']).toBeUndefined();
    const events = (await t.call('listEvents', { type: 'VMSNAPSHOT.CREATE', level: 'ERROR' })).body['event'] as { description: string }[];
    expect(events.some((e) => /snapshot failed/.test(e.description))).toBe(true);
  });
});

describe('destroy and expunge', () => {
  it('a destroy the host refuses leaves Error; destroying again finishes it', async () => {
    const vm = await deployDemo(t, { name: 'destroy-fails' });
    t.engine.simulator.failNext('destroy', { message: 'libvirt: cannot undefine' });
    await expectFailure(await t.run('destroyVirtualMachine', { id: vm['id']! }), vm['id']!, /cannot undefine/);
    expect(row(vm['id']!).state).toBe('Error');
    expect((await t.run('destroyVirtualMachine', { id: vm['id']! }))['jobstatus']).toBe(1);
    expect(row(vm['id']!).state).toBe('Destroyed');
    expect(onHosts(vm['id']!).definedOn).toEqual([]);
  });

  it('an expunge the host refuses leaves Error; destroy with expunge=true then removes everything', async () => {
    const vm = await deployDemo(t, { name: 'expunge-fails' });
    t.engine.simulator.failNext('destroy', { message: 'libvirt: volume is in use' });
    const job = await t.run('destroyVirtualMachine', { id: vm['id']!, expunge: 'true' });
    await expectFailure(job, vm['id']!, /volume is in use/);
    expect(row(vm['id']!).state).toBe('Error');
    expect((await t.run('destroyVirtualMachine', { id: vm['id']!, expunge: 'true' }))['jobstatus']).toBe(1);
    expect(row(vm['id']!).state).toBe('Expunged');
    expect(onHosts(vm['id']!)).toEqual({ definedOn: [], disks: [] });
  });

  it('a VM in Error whose host cannot be reached is destroyed and expunged all the same; the host is cleaned when it answers', async () => {
    const vm = await deployDemo(t, { name: 'host-gone' });
    await t.run('stopVirtualMachine', { id: vm['id']! });
    t.engine.simulator.failNext('destroy', { message: 'libvirt: cannot undefine' });
    await t.run('destroyVirtualMachine', { id: vm['id']! });
    expect(row(vm['id']!).state).toBe('Error');
    const host = row(vm['id']!).last_host_name!;
    t.engine.simulator.setHostUp(host, false);
    try {
      expect((await t.run('destroyVirtualMachine', { id: vm['id']! }))['jobstatus']).toBe(1);
      expect(row(vm['id']!).state).toBe('Destroyed');
      expect((await t.run('destroyVirtualMachine', { id: vm['id']!, expunge: 'true' }))['jobstatus']).toBe(1);
      expect(row(vm['id']!).state).toBe('Expunged');
      // The host was not told: its domain and disks are still there, and Kiln says so.
      expect(onHosts(vm['id']!).definedOn).toEqual([host]);
      const warned = (await t.call('listEvents', { resourceid: vm['id']!, level: 'WARN' })).body['event'] as { description: string }[];
      expect(warned.some((e) => e.description.includes(`host ${host} could not be reached`))).toBe(true);
    } finally {
      t.engine.simulator.setHostUp(host, true);
    }
    await t.engine.background.sweep();
    expect(onHosts(vm['id']!)).toEqual({ definedOn: [], disks: [] });
  });

  it('what an unreachable host owes leaves alone a namesake domain with another UUID (another Kiln\'s), deleting only the VM\'s own disks', async () => {
    const vm = await deployDemo(t, { name: 'namesake' });
    await t.run('stopVirtualMachine', { id: vm['id']! });
    const host = row(vm['id']!).last_host_name!;
    const name = row(vm['id']!).internal_name;
    t.engine.simulator.setHostUp(host, false);
    try {
      expect((await t.run('destroyVirtualMachine', { id: vm['id']!, expunge: 'true' }))['jobstatus']).toBe(1);
    } finally {
      t.engine.simulator.setHostUp(host, true);
    }
    // Meanwhile another Kiln sharing the host defined its own VM by that name, on its own disks.
    const namesake = t.engine.simulator.world.find(host)!.domains[name]!.spec;
    namesake.uuid = '00000000-0000-4000-8000-0000000000aa';
    namesake.disks = namesake.disks.map((d) => ({ ...d, name: `other-${d.name}` }));
    await t.engine.background.sweep();
    expect(onHosts(vm['id']!)).toEqual({ definedOn: [host], disks: [] });
    expect(t.engine.db.prepare('SELECT count(*) FROM host_cleanups').pluck().get()).toBe(0);
    delete t.engine.simulator.world.find(host)!.domains[name];
  });

  it('destroyVirtualMachine expunge=true on a VM that is already Destroyed expunges it (as CloudStack does)', async () => {
    const vm = await deployDemo(t, { name: 'destroyed-then-expunged' });
    expect((await t.run('destroyVirtualMachine', { id: vm['id']! }))['jobstatus']).toBe(1);
    const again = await t.call('destroyVirtualMachine', { id: vm['id']! });
    expect(again.status).toBe(431);
    expect(String(again.body['errortext'])).toMatch(/state Destroyed.*expunge=true/);
    const job = await t.run('destroyVirtualMachine', { id: vm['id']!, expunge: 'true' });
    expect(job).toMatchObject({ jobstatus: 1, jobresult: { success: true } });
    expect(row(vm['id']!).state).toBe('Expunged');
    expect(onHosts(vm['id']!)).toEqual({ definedOn: [], disks: [] });
    expect((await t.call('listVirtualMachines', { id: vm['id']! })).body['virtualmachine']).toBeUndefined();
  });
});

describe('HA', () => {
  it('an HA restart with no host to go to leaves the VM Stopped, with the reason in an event', async () => {
    const ha = (await t.call('createServiceOffering', { name: 'ha-nowhere', cpunumber: '1', cpuspeed: '500', memory: '512', offerha: 'true' })).body['serviceoffering'] as { id: string };
    const vm = await deployDemo(t, { name: 'ha-nowhere', serviceofferingid: ha.id, haenable: 'true' });
    const host = hostOf(vm['id']!);
    const others = t.engine.db.prepare(`SELECT uuid FROM hosts WHERE name<>? AND name LIKE 'sim-host-%'`).all(host) as { uuid: string }[];
    for (const o of others) await t.call('updateHost', { id: o.uuid, allocationstate: 'Disable' });
    t.engine.simulator.setHostUp(host, false);
    try {
      for (let i = 0; i < 3; i++) await t.engine.background.ha.pass();
      await t.engine.jobs.drain();
      expect(row(vm['id']!).state).toBe('Stopped');
      const restart = t.engine.db.prepare(`SELECT uuid FROM async_jobs WHERE cmd='HA.restart' AND instance_uuid=? ORDER BY id DESC LIMIT 1`).pluck().get(vm['id']) as string;
      await expectFailure(await t.engine.jobs.wait(restart), vm['id']!, /host/);
    } finally {
      t.engine.simulator.setHostUp(host, true);
      for (const o of others) await t.call('updateHost', { id: o.uuid, allocationstate: 'Enable' });
      await t.engine.background.ha.pass();
    }
  });
});

describe('HA does not ignore VMs in Error', () => {
  it('powers off a domain still running for a VM Kiln holds in Error (no host), and records it', async () => {
    const vm = await deployDemo(t, { name: 'error-but-running' });
    const host = hostOf(vm['id']!);
    // As a start whose last step failed after the guest was powered on leaves it.
    t.engine.db.prepare(`UPDATE vm_instances SET state='Error', host_id=NULL, last_host_id=(SELECT id FROM hosts WHERE name=?), update_count=update_count+1 WHERE uuid=?`).run(host, vm['id']);
    const domain = t.engine.simulator.world.find(host)!.domains[row(vm['id']!).internal_name]!;
    expect(domain.power).toBe('Running');
    await t.engine.background.ha.pass();
    expect(domain.power).toBe('Stopped');
    const fenced = (await t.call('listEvents', { resourceid: vm['id']!, type: 'HA.FENCE' })).body['event'] as { description: string }[];
    expect(fenced.some((e) => e.description.includes(`powered off there`))).toBe(true);
    expect((await t.run('destroyVirtualMachine', { id: vm['id']!, expunge: 'true' }))['jobstatus']).toBe(1);
    expect(onHosts(vm['id']!)).toEqual({ definedOn: [], disks: [] });
  });
});

describe('internal names stay RFC 1123 labels with vm.instancename.flag=true (R1, R3)', () => {
  const LABEL = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;
  it.each([
    { display: 'has space', suffix: 'has-space' },
    { display: 'x;$(id)<b>', suffix: 'x-id-b' },
    { display: '  ../../etc/passwd  ', suffix: 'etc-passwd' },
    { display: '한글 이름', suffix: 'VM' },
    { display: 'a'.repeat(80), suffix: null },
  ])('display name $display', async ({ display, suffix }) => {
    await t.call('updateConfiguration', { name: 'vm.instancename.flag', value: 'true' });
    try {
      const vm = await deployDemo(t, { displayname: display });
      const internal = row(vm['id']!).internal_name;
      expect(internal).toMatch(LABEL);
      expect(internal.length).toBeLessThanOrEqual(63);
      if (suffix) expect(internal).toMatch(new RegExp(`^i-\\d+-\\d+-${suffix}$`));
      else expect(internal).toMatch(/^i-\d+-\d+-a+$/);
      // The display name itself is kept as given.
      expect(((await t.call('listVirtualMachines', { id: vm['id']! })).body['virtualmachine'] as { displayname: string }[])[0]!.displayname).toBe(display);
      expect(onHosts(vm['id']!).definedOn).toHaveLength(1);
      await t.run('destroyVirtualMachine', { id: vm['id']!, expunge: 'true' });
    } finally {
      await t.call('updateConfiguration', { name: 'vm.instancename.flag', value: 'false' });
    }
  });
});
