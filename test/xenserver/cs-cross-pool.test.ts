/**
 * Live migration across XenServer pools (R20) with Debian's `cloudstack` client against a real
 * `kiln serve` and two xapi simulator pools (two clusters of one zone): migrateVirtualMachine to
 * the other pool's host moves the running VM there (gone from the first pool, its disk on the
 * second pool's SR), and a GPU VM's migrateVirtualMachineWithVolume is refused with 431, nothing
 * moved. Each step is read back from both pools over their own xapi sessions.
 */
import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { csClient } from '../helpers/cs-client.js';
import { startKiln, type KilnProcess } from '../helpers/server.js';
import { XapiSim } from '../helpers/xapi-sim.js';
import { Session } from '../xapi-sim/rpc-client.js';

type Rec = Record<string, unknown>;
const K1 = 'Group of NVIDIA Corporation GK107GL [GRID K1] GPUs';
const TEMPLATE = '/srv/xen-templates/kiln-cs-cross-pool';

/** The first errorcode/errortext anywhere in the client's answer (a refused job's jobresult). */
function errorIn(v: unknown): { errorcode: number; errortext: string } | undefined {
  if (!v || typeof v !== 'object') return undefined;
  if ('errorcode' in v) return v as { errorcode: number; errortext: string };
  for (const x of Object.values(v)) {
    const found = errorIn(x);
    if (found) return found;
  }
  return undefined;
}

describe('cloudstack: live migration across XenServer pools (kiln serve, two xapi simulator pools)', () => {
  let a: XapiSim;
  let b: XapiSim;
  let xa: Session;
  let xb: Session;
  let kiln: KilnProcess;
  const ids: Record<string, string> = {};
  const cs = csClient(() => kiln);
  const ok = async (command: string, params: Record<string, string> = {}): Promise<Rec> => {
    const r = await cs([command, ...Object.entries(params).map(([k, v]) => `${k}=${v}`)]);
    if (r.code !== 0) throw new Error(`${command}: ${JSON.stringify(r.json)} ${r.stderr}`);
    return r.json;
  };
  const inPool = async (x: Session, uuid: string) => Object.entries(await x.call<Record<string, Rec>>('VM.get_all_records')).filter(([, v]) => (v['other_config'] as Record<string, string>)['kiln_uuid'] === uuid);
  const hostId = async (name: string) => ((await ok('listHosts', { name }))['host'] as Rec[])[0]!['id'] as string;

  beforeAll(async () => {
    a = await XapiSim.start({ hosts: [{ name: 'csa-host-1', gpus: ['K1'] }], vms: [{ name: TEMPLATE, template: true }], eventTimeoutClampS: 1, taskDelayMs: 5 });
    b = await XapiSim.start({ hosts: [{ name: 'csb-host-1', gpus: ['K1'] }], vms: [{ name: TEMPLATE, template: true }], eventTimeoutClampS: 1, taskDelayMs: 5 });
    xa = await Session.login(a.url, a.username, a.password);
    xb = await Session.login(b.url, b.username, b.password);
    kiln = await startKiln({ args: ['--no-ui'] });
    ids['zone'] = ((await ok('createZone', { name: 'Two pools' }))['zone'] as Rec)['id'] as string;
    const podid = ((await ok('createPod', { name: 'Pod', zoneid: ids['zone'] }))['pod'] as Rec)['id'] as string;
    await ok('addCluster', { zoneid: ids['zone'], podid, clustername: 'Pool A', hypervisor: 'XenServer', url: a.url, username: a.username, password: a.password });
    await ok('addCluster', { zoneid: ids['zone'], podid, clustername: 'Pool B', hypervisor: 'XenServer', url: b.url, username: b.username, password: b.password });
    ids['network'] = ((await ok('createNetwork', { name: 'Net', zoneid: ids['zone'], userdataprovider: 'VirtualRouter' }))['network'] as Rec)['id'] as string;
    await ok('updateConfiguration', { name: 'kiln.template.local.dir', value: '/srv/xen-templates' });
    const ostypeid = ((await ok('listOsTypes'))['ostype'] as Rec[])[0]!['id'] as string;
    ids['template'] = ((await ok('registerTemplate', { name: 'cross-pool', displaytext: 'x', format: 'VHD', hypervisor: 'XenServer', ostypeid, url: TEMPLATE, size: String(2 ** 30) }))['template'] as Rec[])[0]!['id'] as string;
    ids['small'] = ((await ok('listServiceOfferings', { name: 'Small Instance' }))['serviceoffering'] as Rec[])[0]!['id'] as string;
    ids['k140q'] = ((await ok('createServiceOffering', { name: 'K140Q', displaytext: 'K140Q', cpunumber: '1', cpuspeed: '1000', memory: '1024', 'serviceofferingdetails[0].pciDevice': K1, 'serviceofferingdetails[0].vgpuType': 'GRID K140Q' }))['serviceoffering'] as Rec)['id'] as string;
    ids['a'] = await hostId('csa-host-1');
    ids['b'] = await hostId('csb-host-1');
  }, 90_000);
  afterAll(async () => {
    for (const vm of [ids['vm'], ids['gpuvm']]) if (vm) await cs(['destroyVirtualMachine', `id=${vm}`, 'expunge=true']).catch(() => undefined);
    await kiln?.stop();
    if (kiln) rmSync(kiln.dataDir, { recursive: true, force: true });
    await a?.stop();
    await b?.stop();
  });

  it('migrateVirtualMachine to the other pool\'s host: Running there, gone from the first pool, its disk on the second pool\'s SR', async () => {
    const vm = (await ok('deployVirtualMachine', { zoneid: ids['zone']!, templateid: ids['template']!, serviceofferingid: ids['small']!, networkids: ids['network']!, hostid: ids['a']!, name: 'cs-mover' }))['virtualmachine'] as Rec;
    ids['vm'] = vm['id'] as string;
    expect(vm).toMatchObject({ state: 'Running', hostid: ids['a'] });
    const moved = (await ok('migrateVirtualMachine', { virtualmachineid: ids['vm'], hostid: ids['b']! }))['virtualmachine'] as Rec;
    expect(moved).toMatchObject({ id: ids['vm'], state: 'Running', hostid: ids['b'], hostname: 'csb-host-1' });
    expect(await inPool(xa, ids['vm'])).toEqual([]);
    const [[, rec]] = await inPool(xb, ids['vm']);
    expect([rec['power_state'], rec['resident_on']]).toEqual(['Running', b.info.hosts[0]!.ref]);
    const vbd = await xb.call<Rec>('VBD.get_record', (rec['VBDs'] as string[])[0]);
    const poolB = Object.values(await xb.call<Record<string, Rec>>('pool.get_all_records'))[0]!;
    expect(await xb.call<string>('VDI.get_SR', vbd['VDI'])).toBe(poolB['default_SR']);
    const listed = ((await ok('listVirtualMachines', { id: ids['vm'] }))['virtualmachine'] as Rec[])[0]!;
    expect(listed).toMatchObject({ state: 'Running', hostid: ids['b'] });
    // Kiln still drives it where it is now: a stop reaches pool B.
    expect(((await ok('stopVirtualMachine', { id: ids['vm'] }))['virtualmachine'] as Rec)['state']).toBe('Stopped');
    expect((await inPool(xb, ids['vm']))[0]![1]['power_state']).toBe('Halted');
  });

  it('a GPU VM\'s migrateVirtualMachineWithVolume to the other pool is refused with 431, nothing moved', async () => {
    const vm = (await ok('deployVirtualMachine', { zoneid: ids['zone']!, templateid: ids['template']!, serviceofferingid: ids['k140q']!, networkids: ids['network']!, hostid: ids['a']!, name: 'cs-cad' }))['virtualmachine'] as Rec;
    ids['gpuvm'] = vm['id'] as string;
    const volume = ((await ok('listVolumes', { virtualmachineid: ids['gpuvm'] }))['volume'] as Rec[])[0]!;
    const refused = await cs(['migrateVirtualMachineWithVolume', `virtualmachineid=${ids['gpuvm']}`, `hostid=${ids['b']}`, 'migrateto[0].volume=' + String(volume['id']), 'migrateto[0].pool=NFS virtual disk storage']);
    expect(refused.code).not.toBe(0);
    const error = errorIn(refused.json);
    expect(error?.errorcode).toBe(431);
    expect(error?.errortext).toMatch(/GPU/);
    expect(error?.errortext).not.toMatch(/VM_HAS_VGPU/);
    const listed = ((await ok('listVirtualMachines', { id: ids['gpuvm'] }))['virtualmachine'] as Rec[])[0]!;
    expect(listed).toMatchObject({ state: 'Running', hostid: ids['a'] });
    expect(await inPool(xb, ids['gpuvm'])).toEqual([]);
    expect((await inPool(xa, ids['gpuvm']))[0]![1]['power_state']).toBe('Running');
  });
});
