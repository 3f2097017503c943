/**
 * ISOs on VMware with Debian's `cloudstack` client against a real `kiln serve` and vcsim:
 * registerIso (downloaded into Kiln's image store), a blank VM deployed from it with a disk
 * offering (CreateVM_Task: the offering's disk, the ISO in the first CD-ROM, the CD-ROM first in
 * its boot order), detachIso and attachIso on the running VM and on the stopped one (its drive
 * follows at the next start), each step read back from vCenter over a separate SOAP session, and
 * every refusal a 431 naming its parameter with nothing written.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asArray, asNumber, asObject, asString, retrieveInventory, type VimClient } from '../../drivers/vsphere/soap/index.js';
import { csClient, csError, type CsResult } from '../helpers/cs-client.js';
import { startKiln, type KilnProcess } from '../helpers/server.js';
import { Vcsim, vcsimOrSkip } from '../helpers/vcsim.js';
import { imageServer, ISO_IMAGE, vmwareZone, type ApiCall, type VmwareZone } from './vmware-zone.js';

const available = vcsimOrSkip();
const GiB = 1024 ** 3;

describe.skipIf(!available)('cloudstack: ISOs on VMware VMs (kiln serve, vcsim)', () => {
  let sim: Vcsim;
  let admin: VimClient;
  let images: Awaited<ReturnType<typeof imageServer>>;
  let kiln: KilnProcess;
  let z: VmwareZone;
  const ids: Record<string, string> = {};

  const cs = csClient(() => kiln);
  const call: ApiCall = async (command, params = {}) => {
    const r = await cs([command, ...Object.entries(params).map(([k, v]) => `${k}=${v}`)]);
    return r.code === 0 ? { status: 200, body: r.json } : { status: csError(r).errorcode, body: csError(r) as unknown as Record<string, unknown> };
  };
  const ok = async (args: string[]): Promise<Record<string, unknown>> => {
    const r = await cs(args);
    if (r.code !== 0) throw new Error(`${args[0]}: ${JSON.stringify(r.json)} ${r.stderr}`);
    return r.json;
  };
  const refused = (r: CsResult) => csError(r);

  /** What an ISO command writes: the VMs' drives and states, and the ISO rows. */
  const dbState = () => {
    const db = new Database(join(kiln.dataDir, 'kiln.db'), { readonly: true, fileMustExist: true });
    try {
      return JSON.stringify([db.prepare('SELECT id, iso_id, template_id, state FROM vm_instances ORDER BY id').all(), db.prepare('SELECT id, uuid, state FROM templates ORDER BY id').all()]);
    } finally {
      db.close();
    }
  };

  /** The VM as vCenter holds it: power, its CD-ROMs (backing file or none, connected), disks (KB), boot order. */
  const vcenter = async (name: string) => {
    const found = (await retrieveInventory(admin, [{ type: 'VirtualMachine', pathSet: ['name', 'runtime.powerState', 'config.hardware.device', 'config.bootOptions'] }])).find((o) => o.props['name'] === name);
    if (!found) return undefined;
    const devices = asArray(found.props['config.hardware.device']).map(asObject);
    return {
      power: asString(found.props['runtime.powerState']),
      // In drive order (controller, unit): vcsim moves an edited device to the end of the list.
      cdroms: devices
        .filter((d) => d.$type === 'VirtualCdrom')
        .sort((a, b) => Number(a['controllerKey']) - Number(b['controllerKey']) || Number(a['unitNumber']) - Number(b['unitNumber']))
        .map((d) => {
          const backing = asObject(d['backing']);
          const connectable = asObject(d['connectable']);
          // The decoder leaves untyped booleans as text.
          return { iso: backing.$type === 'VirtualCdromIsoBackingInfo' ? asString(backing['fileName']) : undefined, startConnected: String(connectable['startConnected']) === 'true', connected: String(connectable['connected']) === 'true' };
        }),
      disksKB: devices.filter((d) => d.$type === 'VirtualDisk').map((d) => asNumber(d['capacityInKB'])),
      bootOrder: asArray(asObject(found.props['config.bootOptions'])['bootOrder']).map((b) => asObject(b).$type),
    };
  };

  const waitReady = async (id: string) => {
    for (let i = 0; i < 200; i++) {
      const iso = ((await ok(['listIsos', `id=${id}`, 'isofilter=all']))['iso'] as Record<string, unknown>[])[0]!;
      if (iso['isready'] === true) return iso;
      if (String(iso['status']).startsWith('Download Failed')) return iso;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`ISO ${id} never settled`);
  };

  beforeAll(async () => {
    sim = Vcsim.start(['-cluster', '1', '-host', '1', '-standalone-host', '0', '-vm', '0', '-ds', '1']);
    admin = await sim.connect();
    images = await imageServer();
    kiln = await startKiln({ args: ['--no-ui'] });
    z = await vmwareZone(call, sim, images.url);
    ids['os'] = ((await ok(['listOsTypes']))['ostype'] as { id: string }[])[0]!.id;
    ids['disk'] = ((await ok(['listDiskOfferings', 'name=Small']))['diskoffering'] as { id: string }[])[0]!.id;
  }, 90_000);
  afterAll(async () => {
    if (ids['vm'] && kiln) await cs(['destroyVirtualMachine', `id=${ids['vm']}`, 'expunge=true']);
    await kiln?.stop();
    if (kiln) rmSync(kiln.dataDir, { recursive: true, force: true });
    admin?.close();
    await images?.close();
    sim?.stop();
  });

  it('registerIso downloads the ISO; listIsos shows it ready with its size', async () => {
    const res = await ok(['registerIso', 'name=vmw-installer', `url=${images.isoUrl}`, `zoneid=${z.zoneid}`, `ostypeid=${ids['os']}`]);
    ids['iso'] = (res['iso'] as { id: string }[])[0]!.id;
    expect(await waitReady(ids['iso'])).toMatchObject({ name: 'vmw-installer', isready: true, status: 'Download Complete', bootable: true, physicalsize: ISO_IMAGE.length });
  });

  it('deploys a blank VM from the ISO with a disk offering: CreateVM_Task, the offering\'s disk, the ISO in the first CD-ROM, which is first in the boot order', async () => {
    const before = dbState();
    const noDisk = await cs(['deployVirtualMachine', `zoneid=${z.zoneid}`, `templateid=${ids['iso']}`, `serviceofferingid=${z.offerings['Small Instance']}`, `networkids=${z.networkid}`]);
    expect(refused(noDisk)).toMatchObject({ errorcode: 431, errortext: expect.stringMatching(/^diskofferingid: /) });
    expect(dbState()).toBe(before);
    const res = await ok(['deployVirtualMachine', `zoneid=${z.zoneid}`, `templateid=${ids['iso']}`, `serviceofferingid=${z.offerings['Small Instance']}`, `networkids=${z.networkid}`, `diskofferingid=${ids['disk']}`, 'name=vmw-install']);
    const vm = res['virtualmachine'] as { id: string; state: string; isoid: string; isoname: string; instancename: string; hypervisor: string; templateid?: string };
    expect(vm).toMatchObject({ state: 'Running', hypervisor: 'VMware', isoid: ids['iso'], isoname: 'vmw-installer' });
    expect(vm.templateid).toBeUndefined();
    ids['vm'] = vm.id;
    ids['instance'] = vm.instancename;
    const root = ((await ok(['listVolumes', `virtualmachineid=${vm.id}`, 'type=ROOT']))['volume'] as { size: number }[])[0]!;
    expect(root.size).toBe(5 * GiB);
    const made = (await vcenter(vm.instancename))!;
    expect(made.power).toBe('poweredOn');
    expect(made.disksKB).toEqual([(5 * GiB) / 1024]);
    expect(made.cdroms[0]).toMatchObject({ iso: expect.stringMatching(new RegExp(`^\\[LocalDS_0\\] kiln-images/kiln-iso-${ids['iso']}\\.iso$`)), startConnected: true });
    expect(made.cdroms[1]).toMatchObject({ iso: expect.stringMatching(/^\[LocalDS_0\] kiln-images\/kiln-cfg-.+\.iso$/), startConnected: true });
    ids['isoPath'] = made.cdroms[0]!.iso!;
    expect(made.bootOrder).toEqual(['VirtualMachineBootOptionsBootableCdromDevice', 'VirtualMachineBootOptionsBootableDiskDevice']);
  });

  it('refuses a second ISO, a template as an ISO, and an ISO that is not ready, each a 431 naming its parameter with nothing written', async () => {
    const broken = ((await ok(['registerIso', 'name=vmw-broken', `url=${images.isoUrl.replace('/boot.iso', '/missing.iso')}`, `zoneid=${z.zoneid}`, `ostypeid=${ids['os']}`]))['iso'] as { id: string }[])[0]!.id;
    expect(String((await waitReady(broken))['status'])).toMatch(/^Download Failed/);
    const before = dbState();
    expect(refused(await cs(['attachIso', `id=${ids['iso']}`, `virtualmachineid=${ids['vm']}`]))).toMatchObject({ errorcode: 431, errortext: 'virtualmachineid: VM vmw-install already has ISO vmw-installer attached; detach it first' });
    await cs(['detachIso', `virtualmachineid=${ids['vm']}`]);
    const afterDetach = dbState();
    expect(refused(await cs(['attachIso', `id=${z.templateid}`, `virtualmachineid=${ids['vm']}`]))).toMatchObject({ errorcode: 431, errortext: 'id: vmw-tmpl is a template, not an ISO' });
    expect(refused(await cs(['attachIso', `id=${broken}`, `virtualmachineid=${ids['vm']}`]))).toMatchObject({ errorcode: 431, errortext: expect.stringMatching(/^id: ISO vmw-broken is not ready: /) });
    expect(refused(await cs(['detachIso', `virtualmachineid=${ids['vm']}`]))).toMatchObject({ errorcode: 431, errortext: 'virtualmachineid: VM vmw-install has no ISO attached' });
    expect(dbState()).toBe(afterDetach);
    expect(before).not.toBe(afterDetach);
    const drives = (await vcenter(ids['instance']!))!.cdroms;
    expect(drives[0]!.iso).toBeUndefined();
    expect(drives[1]!.iso).toMatch(/kiln-cfg-/);
  });

  it('attachIso and detachIso on the running VM: vCenter\'s first CD-ROM names the ISO\'s datastore path, then none', async () => {
    const attached = await ok(['attachIso', `id=${ids['iso']}`, `virtualmachineid=${ids['vm']}`]);
    expect(attached['virtualmachine']).toMatchObject({ state: 'Running', isoid: ids['iso'], isoname: 'vmw-installer' });
    let drives = (await vcenter(ids['instance']!))!.cdroms;
    expect(drives[0]).toEqual({ iso: ids['isoPath'], startConnected: true, connected: true });
    expect(drives[1]!.iso).toMatch(/kiln-cfg-/);
    const detached = await ok(['detachIso', `virtualmachineid=${ids['vm']}`]);
    expect((detached['virtualmachine'] as Record<string, unknown>)['isoid']).toBeUndefined();
    drives = (await vcenter(ids['instance']!))!.cdroms;
    expect(drives[0]).toEqual({ iso: undefined, startConnected: false, connected: false });
    expect(drives[1]!.iso).toMatch(/kiln-cfg-/);
  });

  it('attachIso and detachIso on the stopped VM: Kiln\'s record at once, vCenter\'s drive at the next start', async () => {
    expect(((await ok(['stopVirtualMachine', `id=${ids['vm']}`, 'forced=true']))['virtualmachine'] as { state: string }).state).toBe('Stopped');
    const attached = await ok(['attachIso', `id=${ids['iso']}`, `virtualmachineid=${ids['vm']}`]);
    expect(attached['virtualmachine']).toMatchObject({ state: 'Stopped', isoid: ids['iso'] });
    await ok(['startVirtualMachine', `id=${ids['vm']}`]);
    let vm = (await vcenter(ids['instance']!))!;
    expect(vm.power).toBe('poweredOn');
    expect(vm.cdroms[0]).toMatchObject({ iso: ids['isoPath'], startConnected: true });
    expect(vm.bootOrder[0]).toBe('VirtualMachineBootOptionsBootableCdromDevice');
    await ok(['stopVirtualMachine', `id=${ids['vm']}`, 'forced=true']);
    const detached = await ok(['detachIso', `virtualmachineid=${ids['vm']}`]);
    expect(detached['virtualmachine']).toMatchObject({ state: 'Stopped' });
    expect((detached['virtualmachine'] as Record<string, unknown>)['isoid']).toBeUndefined();
    await ok(['startVirtualMachine', `id=${ids['vm']}`]);
    vm = (await vcenter(ids['instance']!))!;
    expect(vm.power).toBe('poweredOn');
    expect(vm.cdroms[0]).toMatchObject({ iso: undefined, startConnected: false });
    // The config drive stays in its own (second) drive; the disk boots.
    expect(vm.cdroms.slice(1).map((c) => c.iso)).toEqual([expect.stringMatching(/^\[LocalDS_0\] kiln-images\/kiln-cfg-.+\.iso$/)]);
    expect(vm.bootOrder).toEqual(['VirtualMachineBootOptionsBootableDiskDevice']);
  });
});
