/**
 * A real `kiln serve` against vcsim, for what only a restart (or the cloudstack client) shows:
 * - a deploy interrupted by kill -9 of the engine leaves no VM in vCenter, whether the engine had
 *   stored the CloneVM_Task (the restarted engine reattaches the job, finds the clone and destroys
 *   it) or not (the clone is found by its vCenter name and Kiln's uuid mark when the VM is destroyed
 *   with expunge). vcsim answers CloneVM_Task and ReconfigVM_Task 2.5 s late (-method-delay), which
 *   is where the kills land;
 * - a deploy's own rootDiskController / dataDiskController / nicAdapter win over the template's
 *   (R30), as vCenter's device types show;
 * - a config drive already on the datastore is not uploaded again after a restart (vcsim counts
 *   the uploads to kiln-images/ and answers them at /kiln/uploads);
 * - a VHD template for VMware is refused at registerTemplate with a 431 naming `format` (RAW,
 *   QCOW2 and OVA are taken; qcow2-template.test.ts deploys a QCOW2 one).
 */
import { rmSync } from 'node:fs';
import https from 'node:https';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MoRef, asArray, asNumber, asObject, asString, getProperties, retrieveInventory, type VimClient } from '../../drivers/vsphere/soap/index.js';
import { api, waitJob } from '../helpers/crash-rounds.js';
import { csClient, csError } from '../helpers/cs-client.js';
import { startKiln, type KilnProcess } from '../helpers/server.js';
import { Vcsim, vcsimOrSkip } from '../helpers/vcsim.js';
import { imageServer, vmwareZone, type VmwareZone } from './vmware-zone.js';

const available = vcsimOrSkip();
const DELAY_MS = 2500;

describe.skipIf(!available)('kiln serve on vcsim: interrupted deploys, deploy-time R30 details, staged config drives after a restart, VHD refused', () => {
  let sim: Vcsim;
  let admin: VimClient;
  let images: Awaited<ReturnType<typeof imageServer>>;
  let kiln: KilnProcess;
  let z: VmwareZone;
  const call = (command: string, params: Record<string, string> = {}) => api(kiln, command, params);
  const cs = csClient(() => kiln);

  /** The VMs vCenter holds named NAME (templates left out). */
  const inVcenter = async (name: string) =>
    (await retrieveInventory(admin, [{ type: 'VirtualMachine', pathSet: ['name', 'config.template'] }])).filter((o) => o.props['name'] === name && o.props['config.template'] !== true).map((o) => o.obj);
  const db = <T>(fn: (d: Database.Database) => T): T => {
    const d = new Database(join(kiln.dataDir, 'kiln.db'), { readonly: true });
    try {
      return fn(d);
    } finally {
      d.close();
    }
  };
  /** vcsim's counts (test/vcsim/counters.go): uploads per file under kiln-images/, vim25 calls received per method. */
  const counts = (what: 'uploads' | 'calls') =>
    new Promise<Record<string, number>>((resolve, reject) => {
      https.get(`https://${sim.info.host}:${sim.info.port}/kiln/${what}`, { rejectUnauthorized: false }, (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => resolve(JSON.parse(body) as Record<string, number>));
      }).on('error', reject);
    });
  const uploads = () => counts('uploads');
  const deploy = async (name: string, extra: Record<string, string> = {}) => {
    const res = await call('deployVirtualMachine', { zoneid: z.zoneid, templateid: z.templateid, serviceofferingid: z.offerings['Small Instance']!, networkids: z.networkid, name, ...extra });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    const id = res.body['id'] as string;
    const instancename = db((d) => d.prepare('SELECT internal_name FROM vm_instances WHERE uuid=?').pluck().get(id) as string);
    return { id, jobid: res.body['jobid'] as string, instancename };
  };
  const until = async (what: string, check: () => Promise<boolean> | boolean, ms = 20_000) => {
    const deadline = Date.now() + ms;
    while (!(await check())) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  /** Ends the engine (SIGTERM: a clean stop; SIGKILL: a crash), keeping its data directory. */
  const end = async (signal: 'SIGTERM' | 'SIGKILL') => {
    kiln.child.kill(signal);
    await new Promise((r) => kiln.child.once('exit', r));
  };
  const kill9 = () => end('SIGKILL');
  const restart = async () => {
    kiln = await startKiln({ dataDir: kiln.dataDir, args: ['--no-ui'] });
  };
  const vmState = async (id: string) => ((await call('listVirtualMachines', { id })).body['virtualmachine'] as { state: string }[] | undefined)?.[0]?.state;
  /** Deploys with START, and kills the engine once vcsim has METHOD's call (it answers 2.5 s late, so the engine dies waiting). */
  const killDuring = async (method: string, start: () => ReturnType<typeof deploy>) => {
    const before = (await counts('calls'))[method] ?? 0;
    const vm = await start();
    await until(`the ${method} call`, async () => ((await counts('calls'))[method] ?? 0) > before, 60_000);
    await kill9();
    return vm;
  };
  /** The restarted engine fails the interrupted deploy's job and the VM settles Stopped. */
  const restartAndSettle = async (vm: { id: string; jobid: string }) => {
    await restart();
    const job = await waitJob(kiln, vm.jobid, 60_000);
    expect(job['jobstatus']).toBe(2);
    await until('the VM to settle', async () => (await vmState(vm.id)) === 'Stopped');
  };
  /** destroyVirtualMachine expunge=true leaves the VM neither in Kiln nor in vCenter. */
  const expungeLeavesNothing = async (vm: { id: string; instancename: string }) => {
    const gone = await call('destroyVirtualMachine', { id: vm.id, expunge: 'true' });
    const destroyed = await waitJob(kiln, gone.body['jobid'] as string, 60_000);
    expect(destroyed['jobstatus'], JSON.stringify(destroyed['jobresult'])).toBe(1);
    expect(await vmState(vm.id)).toBeUndefined();
    expect(await inVcenter(vm.instancename)).toEqual([]);
  };

  beforeAll(async () => {
    sim = Vcsim.start(['-cluster', '1', '-host', '2', '-standalone-host', '0', '-vm', '0', '-ds', '1', '-method-delay', `CloneVM_Task=${DELAY_MS},CreateVM_Task=${DELAY_MS},ReconfigVM_Task=${DELAY_MS}`]);
    admin = await sim.connect();
    images = await imageServer();
    kiln = await startKiln({ args: ['--no-ui'] });
    z = await vmwareZone(call, sim, images.url);
  }, 60_000);
  afterAll(async () => {
    // A killed engine has exited already (stop() would wait for it).
    if (kiln && kiln.child.exitCode === null && kiln.child.signalCode === null) await kiln.stop();
    if (kiln) rmSync(kiln.dataDir, { recursive: true, force: true });
    admin?.close();
    await images?.close();
    sim?.stop();
  });

  it('cloudstack: registerTemplate format=VHD hypervisor=VMware is a 431 naming format (the vSphere driver takes RAW, QCOW2 and OVA); nothing is registered', async () => {
    const ostypeid = ((await call('listOsTypes')).body['ostype'] as { id: string }[])[0]!.id;
    const res = await cs(['registerTemplate', 'name=vmw-vhd', 'displaytext=v', 'format=VHD', 'hypervisor=VMware', `ostypeid=${ostypeid}`, `url=${images.url}`, `zoneid=${z.zoneid}`]);
    expect(res.code).not.toBe(0);
    expect(csError(res).errorcode).toBe(431);
    expect(csError(res).errortext).toMatch(/^format: VMware hosts do not deploy VHD templates; register one as RAW or QCOW2 or OVA/);
    const listed = (await cs(['listTemplates', 'templatefilter=all', 'name=vmw-vhd'])).json['template'];
    expect(listed).toBeUndefined();
    // The rule is the driver's, published with its capabilities.
    const caps = (await cs(['listHypervisorCapabilities', 'hypervisor=VMware'])).json['hypervisorCapabilities'] as { templateformats?: string }[];
    expect(caps[0]?.templateformats).toBe('RAW,QCOW2,OVA,ISO');
  });

  let detailed: { id: string; instancename: string };

  it('deploy-time rootDiskController, dataDiskController and nicAdapter win over the template\'s pvscsi and E1000 (R30), as vCenter\'s devices show', async () => {
    const small = ((await call('listDiskOfferings', { name: 'Small' })).body['diskoffering'] as { id: string }[])[0]!;
    const vm = await deploy('vmw-r30', {
      diskofferingid: small.id, 'details[0].rootDiskController': 'lsilogic', 'details[0].dataDiskController': 'lsisas1068', 'details[0].nicAdapter': 'Vmxnet3',
    });
    const job = await waitJob(kiln, vm.jobid, 90_000);
    expect(job['jobstatus'], JSON.stringify(job['jobresult'])).toBe(1);
    expect((job['jobresult'] as { virtualmachine: { details: Record<string, string> } }).virtualmachine.details).toMatchObject({ rootDiskController: 'lsilogic', dataDiskController: 'lsisas1068', nicAdapter: 'Vmxnet3' });
    const [ref] = await inVcenter(vm.instancename);
    const devices = asArray((await getProperties(admin, ref!, ['config.hardware.device']))['config.hardware.device']).map(asObject);
    const typeOf = (key: number | undefined) => devices.find((d) => asNumber(d['key']) === key)?.$type;
    const disks = devices.filter((d) => d.$type === 'VirtualDisk').sort((a, b) => asNumber(a['key'])! - asNumber(b['key'])!);
    expect(disks).toHaveLength(2);
    expect(disks.map((d) => typeOf(asNumber(d['controllerKey'])))).toEqual(['VirtualLsiLogicController', 'VirtualLsiLogicSASController']);
    // The template's PVSCSI controller held only the root disk: it went with the move; the NIC is the deploy's type.
    expect(devices.map((d) => d.$type)).not.toContain('ParaVirtualSCSIController');
    expect(devices.map((d) => d.$type)).toContain('VirtualVmxnet3');
    expect(devices.map((d) => d.$type)).not.toContain('VirtualE1000');
    detailed = vm;
  }, 120_000);

  it('a data disk attached later to a running VM goes on a controller of its dataDiskController type (R30), added when the VM has none', async () => {
    const vm = await deploy('vmw-r30-later', { 'details[0].dataDiskController': 'lsisas1068' });
    const job = await waitJob(kiln, vm.jobid, 90_000);
    expect(job['jobstatus'], JSON.stringify(job['jobresult'])).toBe(1);
    const [ref] = await inVcenter(vm.instancename);
    const devicesNow = async () => asArray((await getProperties(admin, ref!, ['config.hardware.device']))['config.hardware.device']).map(asObject);
    // Only the template's root disk on its PVSCSI controller so far: no SAS controller yet.
    expect((await devicesNow()).map((d) => d.$type)).not.toContain('VirtualLsiLogicSASController');
    const custom = ((await call('listDiskOfferings', { name: 'Custom' })).body['diskoffering'] as { id: string }[])[0]!;
    const made = await call('createVolume', { zoneid: z.zoneid, diskofferingid: custom.id, size: '1', name: 'vmw-r30-data' });
    expect(made.status, JSON.stringify(made.body)).toBe(200);
    const volumeId = made.body['id'] as string;
    expect((await waitJob(kiln, made.body['jobid'] as string))['jobstatus']).toBe(1);
    const attached = await call('attachVolume', { id: volumeId, virtualmachineid: vm.id });
    const attachJob = await waitJob(kiln, attached.body['jobid'] as string, 60_000);
    expect(attachJob['jobstatus'], JSON.stringify(attachJob['jobresult'])).toBe(1);
    const devices = await devicesNow();
    const typeOf = (key: number | undefined) => devices.find((d) => asNumber(d['key']) === key)?.$type;
    const disks = devices.filter((d) => d.$type === 'VirtualDisk').sort((a, b) => asNumber(a['key'])! - asNumber(b['key'])!);
    expect(disks).toHaveLength(2);
    expect(disks.map((d) => typeOf(asNumber(d['controllerKey'])))).toEqual(['ParaVirtualSCSIController', 'VirtualLsiLogicSASController']);
    expect(await vmState(vm.id)).toBe('Running');
  }, 120_000);

  it('after a restart of kiln serve, starting the VM again keeps its config drive on the datastore: no second upload', async () => {
    const vmUuid = detailed.id;
    const drive = `kiln-images/kiln-cfg-${vmUuid}.iso`;
    expect((await uploads())[drive]).toBe(1);
    const stopped = await call('stopVirtualMachine', { id: detailed.id, forced: 'true' });
    expect((await waitJob(kiln, stopped.body['jobid'] as string))['jobstatus']).toBe(1);
    await end('SIGTERM');
    await restart();
    const started = await call('startVirtualMachine', { id: detailed.id });
    const job = await waitJob(kiln, started.body['jobid'] as string, 60_000);
    expect(job['jobstatus'], JSON.stringify(job['jobresult'])).toBe(1);
    expect(await vmState(detailed.id)).toBe('Running');
    expect((await uploads())[drive]).toBe(1);
    // The CD-ROM still holds that copy.
    const [ref] = await inVcenter(detailed.instancename);
    const devices = asArray((await getProperties(admin, ref!, ['config.hardware.device']))['config.hardware.device']).map(asObject);
    expect(devices.filter((d) => d.$type === 'VirtualCdrom').map((d) => asString(asObject(d['backing'])['fileName']))).toContain(`[LocalDS_0] ${drive}`);
  }, 120_000);

  it('kill -9 after the CloneVM_Task was stored (during the sizing ReconfigVM_Task): the restarted engine reattaches the job, destroys the unfinished clone, fails the job saying so; the VM deploys again on start', async () => {
    const vm = await deploy('vmw-killed-late');
    // The first task the job stores is the clone's; vcsim made the clone when it answered.
    const taskOf = () => db((d) => d.prepare('SELECT hypervisor_task_ref FROM async_jobs WHERE uuid=?').pluck().get(vm.jobid) as string | null);
    await until('the job to store its CloneVM_Task', () => taskOf() !== null, 60_000);
    await kill9();
    const task = taskOf()!;
    expect((await getProperties(admin, new MoRef('Task', task.replace(/^Task:/, '')), ['info.descriptionId']))['info.descriptionId']).toMatch(/^VirtualMachine\.clone/);
    expect(await inVcenter(vm.instancename)).toHaveLength(1);
    expect(db((d) => d.prepare('SELECT ref FROM vm_instances WHERE uuid=?').pluck().get(vm.id))).toBeNull();

    await restart();
    const job = await waitJob(kiln, vm.jobid, 60_000);
    expect(job['jobstatus']).toBe(2);
    expect((job['jobresult'] as { errortext: string }).errortext).toMatch(/deploy was interrupted by Kiln's restart .* was destroyed in vCenter/);
    expect(await inVcenter(vm.instancename)).toEqual([]);
    expect(await vmState(vm.id)).toBe('Stopped');
    // Nothing stands in the way of the VM itself.
    const started = await call('startVirtualMachine', { id: vm.id });
    expect((await waitJob(kiln, started.body['jobid'] as string, 60_000))['jobstatus']).toBe(1);
    expect(await inVcenter(vm.instancename)).toHaveLength(1);
    const gone = await call('destroyVirtualMachine', { id: vm.id, expunge: 'true' });
    expect((await waitJob(kiln, gone.body['jobid'] as string, 60_000))['jobstatus']).toBe(1);
    expect(await inVcenter(vm.instancename)).toEqual([]);
  }, 180_000);

  it('kill -9 while CloneVM_Task is asked for (no task stored): the job fails on restart, and destroy with expunge of the ref-less VM finds the clone by name and Kiln\'s mark and destroys it', async () => {
    const vm = await killDuring('CloneVM_Task', () => deploy('vmw-killed-early'));
    expect(db((d) => d.prepare('SELECT hypervisor_task_ref FROM async_jobs WHERE uuid=?').pluck().get(vm.jobid))).toBeNull();
    // vcsim still answers the call it was given: the clone appears with no one to store it.
    await until('vcsim to make the clone', async () => (await inVcenter(vm.instancename)).length === 1, DELAY_MS * 3);

    await restartAndSettle(vm);
    expect(db((d) => d.prepare('SELECT ref FROM vm_instances WHERE uuid=?').pluck().get(vm.id))).toBeNull();
    await expungeLeavesNothing(vm);
  }, 180_000);

  it('kill -9 while a blank VM\'s CreateVM_Task is asked for: the job fails on restart, and destroy with expunge finds the VM vcsim made by its name and mark and destroys it', async () => {
    const ostypeid = ((await call('listOsTypes')).body['ostype'] as { id: string }[])[0]!.id;
    const iso = await call('registerIso', { name: 'vmw-kill-iso', url: images.isoUrl, zoneid: z.zoneid, ostypeid });
    expect(iso.status, JSON.stringify(iso.body)).toBe(200);
    const isoId = (iso.body['iso'] as { id: string }[])[0]!.id;
    await until('the ISO download', async () => ((await call('listIsos', { id: isoId, isofilter: 'all' })).body['iso'] as { isready: boolean }[] | undefined)?.[0]?.isready === true, 30_000);
    const small = ((await call('listDiskOfferings', { name: 'Small' })).body['diskoffering'] as { id: string }[])[0]!;
    const vm = await killDuring('CreateVM_Task', () => deploy('vmw-blank-killed', { templateid: isoId, diskofferingid: small.id }));
    expect(db((d) => d.prepare('SELECT ref FROM vm_instances WHERE uuid=?').pluck().get(vm.id))).toBeNull();
    await until('vcsim to make the VM', async () => (await inVcenter(vm.instancename)).length === 1, DELAY_MS * 3);

    await restartAndSettle(vm);
    await expungeLeavesNothing(vm);
  }, 180_000);
});
