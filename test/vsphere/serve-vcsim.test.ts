/**
 * A real `kiln serve` process against vcsim. Debian's `cloudstack` client (cs) adds the vCenter
 * cluster, registers a RAW template and runs a VMware VM's life: deploy, stop, start, reboot,
 * destroy with expunge, each answer checked and vCenter checked after it. Then a migration's job
 * is interrupted by kill -9 of the engine while its MigrateVM_Task runs (3 s in this vcsim): the
 * restarted engine reattaches the job to that task, and the job finishes with the VM Running on
 * the destination, as vCenter has it.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MoRef, asMoRef, asString, getProperties, retrieveInventory, type VimClient } from '../../drivers/vsphere/soap/index.js';
import { api, waitJob } from '../helpers/crash-rounds.js';
import { csArgs, csClient } from '../helpers/cs-client.js';
import { startKiln, type KilnProcess } from '../helpers/server.js';
import { Vcsim, vcsimOrSkip } from '../helpers/vcsim.js';
import { imageServer, vmwareZone, type ApiCall, type VmwareZone } from './vmware-zone.js';

const available = vcsimOrSkip();

/** One `cloudstack` call as an ApiCall: the printed result, or the error's code and text. */
function cs(kiln: KilnProcess): ApiCall {
  const client = csClient(() => kiln);
  return async (command, params = {}) => {
    const r = await client(csArgs(command, params));
    if (r.code === 0) return { status: 200, body: r.json };
    const inner = (Object.values(r.json)[0] ?? {}) as Record<string, unknown>;
    return { status: Number(inner['errorcode'] ?? 1), body: inner };
  };
}

describe.skipIf(!available)('kiln serve with a vCenter (vcsim): the cloudstack client, and kill -9 during a vSphere task', () => {
  let sim: Vcsim;
  let admin: VimClient;
  let images: Awaited<ReturnType<typeof imageServer>>;
  let kiln: KilnProcess;
  let z: VmwareZone;
  let vmId = '';

  const vcenterVm = async (name: string) => {
    const found = (await retrieveInventory(admin, [{ type: 'VirtualMachine', pathSet: ['name', 'runtime.powerState', 'runtime.host'] }])).find((o) => o.props['name'] === name);
    return found && { ref: found.obj.value, power: asString(found.props['runtime.powerState']), host: asMoRef(found.props['runtime.host'])?.value };
  };
  const hostRefs = () => {
    const db = new Database(join(kiln.dataDir, 'kiln.db'), { readonly: true });
    try {
      return Object.fromEntries((db.prepare(`SELECT uuid, ref FROM hosts WHERE hypervisor='VMware'`).all() as { uuid: string; ref: string }[]).map((r) => [r.uuid, r.ref]));
    } finally {
      db.close();
    }
  };

  beforeAll(async () => {
    sim = Vcsim.start(['-cluster', '1', '-host', '2', '-standalone-host', '0', '-vm', '0', '-ds', '1', '-task-time', '3s', '-shutdown-time', '200ms']);
    admin = await sim.connect();
    images = await imageServer();
    kiln = await startKiln({ args: ['--no-ui'] });
    z = await vmwareZone(cs(kiln), sim, images.url);
  }, 60_000);
  afterAll(async () => {
    if (vmId && kiln) await cs(kiln)('destroyVirtualMachine', { id: vmId, expunge: 'true' });
    await kiln?.stop();
    if (kiln) rmSync(kiln.dataDir, { recursive: true, force: true });
    admin?.close();
    await images?.close();
    sim?.stop();
  });

  it('cloudstack: deploy, stop, start, reboot, destroy with expunge of a VMware VM; vCenter follows each step and keeps nothing after', async () => {
    const call = cs(kiln);
    const deployed = await call('deployVirtualMachine', { zoneid: z.zoneid, templateid: z.templateid, serviceofferingid: z.offerings['Small Instance']!, networkids: z.networkid, name: 'cs-vmware' });
    expect(deployed.status, JSON.stringify(deployed.body)).toBe(200);
    const vm = deployed.body['virtualmachine'] as { id: string; state: string; instancename: string; hypervisor: string; hostid: string };
    expect(vm).toMatchObject({ state: 'Running', hypervisor: 'VMware', instancename: expect.stringMatching(/^i-\d+-\d+-VM$/) });
    expect(await vcenterVm(vm.instancename)).toMatchObject({ power: 'poweredOn', host: hostRefs()[vm.hostid] });
    expect((await call('stopVirtualMachine', { id: vm.id })).body['virtualmachine']).toMatchObject({ state: 'Stopped' });
    expect((await vcenterVm(vm.instancename))?.power).toBe('poweredOff');
    expect((await call('startVirtualMachine', { id: vm.id })).body['virtualmachine']).toMatchObject({ state: 'Running' });
    expect((await vcenterVm(vm.instancename))?.power).toBe('poweredOn');
    // No Tools in this guest: the reboot is a ResetVM_Task on it (the job stored it), the VM still Running.
    expect((await call('rebootVirtualMachine', { id: vm.id })).body['virtualmachine']).toMatchObject({ state: 'Running' });
    const db = new Database(join(kiln.dataDir, 'kiln.db'), { readonly: true });
    const resetTask = db.prepare(`SELECT hypervisor_task_ref FROM async_jobs WHERE cmd='rebootVirtualMachine' ORDER BY id DESC LIMIT 1`).pluck().get() as string;
    db.close();
    const task = await getProperties(admin, new MoRef('Task', resetTask.replace(/^Task:/, '')), ['info.descriptionId', 'info.state', 'info.entity']);
    expect(task).toMatchObject({ 'info.descriptionId': 'VirtualMachine.reset', 'info.state': 'success' });
    expect((task['info.entity'] as MoRef).value).toBe((await vcenterVm(vm.instancename))!.ref);
    const listed = await call('listVirtualMachines', { id: vm.id });
    expect((listed.body['virtualmachine'] as { state: string }[])[0]!.state).toBe('Running');
    const expunged = await call('destroyVirtualMachine', { id: vm.id, expunge: 'true' });
    expect(expunged.body).toMatchObject({ success: true });
    expect((await call('listVirtualMachines', { id: vm.id })).body['virtualmachine']).toBeUndefined();
    expect(await vcenterVm(vm.instancename)).toBeUndefined();
  });

  it('kill -9 of kiln serve during MigrateVM_Task: the restarted engine reattaches the job to the task and finishes it, the VM Running on the destination', async () => {
    const call = cs(kiln);
    const deployed = await call('deployVirtualMachine', { zoneid: z.zoneid, templateid: z.templateid, serviceofferingid: z.offerings['Small Instance']!, networkids: z.networkid, name: 'cs-migrated' });
    const vm = deployed.body['virtualmachine'] as { id: string; instancename: string; hostid: string };
    vmId = vm.id;
    const destination = Object.values(z.hosts).find((h) => h !== vm.hostid)!;
    const started = await api(kiln, 'migrateVirtualMachine', { virtualmachineid: vm.id, hostid: destination });
    const jobid = started.body['jobid'] as string;
    expect(jobid, JSON.stringify(started.body)).toMatch(/^[0-9a-f-]{36}$/);
    // Kill it once the job has stored its vSphere task (and the task is still running in vCenter).
    const taskOf = () => {
      const db = new Database(join(kiln.dataDir, 'kiln.db'), { readonly: true });
      try {
        return db.prepare('SELECT hypervisor_task_ref FROM async_jobs WHERE uuid=?').pluck().get(jobid) as string | null;
      } finally {
        db.close();
      }
    };
    for (let i = 0; i < 100 && !taskOf(); i++) await new Promise((r) => setTimeout(r, 20));
    const task = taskOf();
    expect(task).toMatch(/^Task:task-\d+$/);
    kiln.child.kill('SIGKILL');
    await new Promise((r) => kiln.child.once('exit', r));
    const info = await getProperties(admin, new MoRef('Task', task!.replace(/^Task:/, '')), ['info.state']);
    expect(info['info.state']).toMatch(/^(queued|running)$/);

    kiln = await startKiln({ dataDir: kiln.dataDir, args: ['--no-ui'] });
    const job = await waitJob(kiln, jobid, 30_000);
    expect(job, JSON.stringify(job)).toMatchObject({ jobstatus: 1, jobresult: { virtualmachine: { id: vm.id, state: 'Running', hostid: destination } } });
    expect((await vcenterVm(vm.instancename))).toMatchObject({ power: 'poweredOn', host: hostRefs()[destination] });
    const listed = (await cs(kiln)('listVirtualMachines', { id: vm.id })).body['virtualmachine'] as { state: string; hostid: string }[];
    expect(listed[0]).toMatchObject({ state: 'Running', hostid: destination });
  }, 60_000);
});
