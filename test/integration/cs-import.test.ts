/**
 * Debian's `cs` client (command `cloudstack`) against a real `kiln serve` on its simulator demo
 * zone, with VMs made on a simulated host outside Kiln (written into the serve's simulator state
 * while it is stopped): listUnmanagedInstances, importUnmanagedInstance and unmanageVirtualMachine,
 * and every R43–R50 refusal with its code, its text naming the parameter, and no row written.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { VmSpec } from '../../drivers/types.js';
import type { SimForeign } from '../../drivers/simulator/world.js';
import { csClient, csError } from '../helpers/cs-client.js';
import { startKiln, type KilnProcess } from '../helpers/server.js';

let kiln: KilnProcess;
let dataDir: string;
const GiB = 1024 ** 3;

const cs = csClient(() => kiln);
const errorOf = csError;

function query<T>(sql: string): T[] {
  const db = new Database(join(dataDir, 'kiln.db'), { readonly: true, fileMustExist: true });
  try {
    return db.prepare(sql).all() as T[];
  } finally {
    db.close();
  }
}

/** What an import or unmanage writes: VMs, their NICs, volumes and details, templates. */
function dbState(): string {
  return ['vm_instances', 'nics', 'volumes', 'vm_details', 'templates'].map((t) => `${t}:${JSON.stringify(query(`SELECT * FROM ${t} ORDER BY rowid`))}`).join('\n');
}

function foreign(name: string, over: Partial<VmSpec> = {}): VmSpec {
  return {
    internalName: name, displayName: name, uuid: `${name}-uuid`, cpuNumber: 2, cpuSpeedMhz: 2000, memoryMiB: 2048,
    disks: [{ name: `${name}-root`, sizeBytes: 8 * GiB, device: 'disk', bus: 'virtio' }, { name: `${name}-data`, sizeBytes: 2 * GiB, device: 'disk', bus: 'virtio' }],
    nics: [{ macAddress: `52:54:00:cc:${name.length.toString(16).padStart(2, '0')}:01`, network: 'vlan100', vlan: 100, adapterType: 'e1000' }],
    details: { osDisplayName: 'Debian GNU/Linux 12 (64-bit)' },
    ...over,
  };
}

describe('cs: unmanage and import against kiln serve', () => {
  const ids: Record<string, string> = {};
  let knownMac = '';

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'kiln-cs-import-'));
    kiln = await startKiln({ dataDir, args: ['--no-ui'] });
    await kiln.stop();
    knownMac = query<{ mac_address: string }>(`SELECT mac_address FROM nics WHERE removed IS NULL ORDER BY id LIMIT 1`)[0]!.mac_address;
    // VMs made on sim-host-1 outside Kiln, as its simulator state holds them.
    const file = join(dataDir, 'simulator.json');
    const world = JSON.parse(readFileSync(file, 'utf8')) as { hosts: Record<string, { domains: Record<string, { spec: VmSpec; power: string; snapshots: []; boots: number; foreign: SimForeign }> }> };
    const add = (spec: VmSpec, power: string, extra: SimForeign = {}) => (world.hosts['sim-host-1']!.domains[spec.internalName] = { spec, power, snapshots: [], boots: 0, foreign: extra });
    add(foreign('cs-web'), 'Running', { guestIps: [['10.50.0.11', '10.50.0.12']] });
    add(foreign('cs-mixdisk', { disks: [{ name: 'md-root', sizeBytes: GiB, device: 'disk' }, { name: 'md-a', sizeBytes: GiB, device: 'disk', bus: 'scsi' }, { name: 'md-b', sizeBytes: GiB, device: 'disk', bus: 'sata' }] }), 'Stopped');
    add(foreign('cs-mixnic', { nics: [{ macAddress: '52:54:00:cd:00:01', network: 'a', adapterType: 'e1000' }, { macAddress: '52:54:00:cd:00:02', network: 'a', adapterType: 'virtio' }] }), 'Stopped');
    add(foreign('cs-plan9', { details: { osDisplayName: 'Plan 9' } }), 'Stopped');
    add(foreign('cs-dupmac', { nics: [{ macAddress: knownMac, network: 'x', vlan: 100, adapterType: 'virtio' }] }), 'Stopped');
    add(foreign('cs-small', { cpuNumber: 1, memoryMiB: 512, disks: [{ name: 'small-root', sizeBytes: GiB, device: 'disk' }] }), 'Running');
    writeFileSync(file, JSON.stringify(world), { mode: 0o600 });
    kiln = await startKiln({ dataDir, args: ['--no-ui'] });
    ids['cluster'] = ((await cs(['listClusters'])).json['cluster'] as { id: string }[])[0]!.id;
    const offerings = (await cs(['listServiceOfferings'])).json['serviceoffering'] as { id: string; name: string }[];
    for (const o of offerings) ids[o.name] = o.id;
    ids['disk'] = ((await cs(['listDiskOfferings'])).json['diskoffering'] as { id: string }[])[0]!.id;
    ids['l2'] = ((await cs(['listNetworks'])).json['network'] as { id: string }[])[0]!.id;
  }, 90_000);
  afterAll(async () => {
    await kiln?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('listUnmanagedInstances shows the VMs made outside Kiln with their why-not reasons', async () => {
    const res = await cs(['listUnmanagedInstances', `clusterid=${ids['cluster']}`]);
    expect(res.code).toBe(0);
    const rows = res.json['unmanagedinstance'] as { name: string; importable: boolean; notimportablereason?: string[]; powerstate: string }[];
    expect(rows.map((r) => r.name).sort()).toEqual(['cs-dupmac', 'cs-mixdisk', 'cs-mixnic', 'cs-plan9', 'cs-small', 'cs-web']);
    expect(rows.find((r) => r.name === 'cs-web')).toMatchObject({ importable: true, powerstate: 'PowerOn' });
    expect(rows.find((r) => r.name === 'cs-plan9')?.notimportablereason?.join()).toContain('give templateid');
    const user = await cs(['listUnmanagedInstances', `clusterid=${ids['cluster']}`, 'name=cs-web']);
    expect((user.json['unmanagedinstance'] as unknown[]).length).toBe(1);
  });

  it('every R43-R50 refusal is a 431 naming its parameter, and writes nothing', async () => {
    const base = [`clusterid=${ids['cluster']}`, 'name=cs-web', `serviceofferingid=${ids['Custom']}`, 'details[0].cpuSpeed=1000', 'datadiskofferinglist[0].disk=cs-web-data', `datadiskofferinglist[0].diskoffering=${ids['disk']}`];
    const without = (prefix: string) => base.filter((a) => !a.startsWith(prefix));
    const cases: [string[], string][] = [
      [[...without('name='), 'name=cs-dupmac', 'datadiskofferinglist[0].disk=cs-dupmac-data'], 'forced: NIC nic0 of VM cs-dupmac: MAC'],
      [[...without('serviceofferingid='), `serviceofferingid=${ids['Small Instance']}`], 'serviceofferingid: offering Small Instance has 1 vCPUs and 512 MB, VM cs-web runs with 2 vCPUs and 2048 MB'],
      [without('details[0].cpuSpeed'), 'details[0].cpuSpeed: offering Custom is custom unconstrained'],
      [without('datadiskofferinglist'), 'datadiskofferinglist: data disk cs-web-data of VM cs-web needs a disk offering'],
      [[...base, 'nicipaddresslist[0].nic=nic0', 'nicipaddresslist[0].ip4Address=auto'], 'nicipaddresslist: NIC nic0 is mapped to L2 network'],
      [[...base, 'nicnetworklist[0].nic=nic7', `nicnetworklist[0].network=${ids['l2']}`], 'nicnetworklist: VM cs-web has no NIC nic7'],
      [[...without('name='), 'name=cs-plan9', 'datadiskofferinglist[0].disk=cs-plan9-data'], 'templateid: VM cs-plan9: no guest OS'],
      [[...without('name='), 'name=cs-mixdisk'], 'name: VM cs-mixdisk has data disks on mixed controller types (scsi, sata)'],
      [[...without('name='), 'name=cs-mixnic', 'datadiskofferinglist[0].disk=cs-mixnic-data'], 'name: VM cs-mixnic has NICs of mixed adapter types (e1000, virtio)'],
      [[...without('name='), 'name=nothing-here'], 'name: no unmanaged VM named nothing-here'],
      [[...base, 'projectid=7f3c3c3e-0000-4000-8000-000000000000'], 'projectid: Kiln has no projects'],
    ];
    const before = dbState();
    for (const [args, text] of cases) {
      const res = await cs(['importUnmanagedInstance', ...args]);
      expect(res.code, text).not.toBe(0);
      expect(errorOf(res), text).toMatchObject({ errorcode: 431, errortext: expect.stringContaining(text) });
    }
    expect(dbState()).toBe(before);
    // R45 on a shared network of the NIC's VLAN: auto needs exactly one guest IP; an explicit map must match the VLAN.
    const zone = ((await cs(['listZones'])).json['zone'] as { id: string }[])[0]!.id;
    const shared = await cs(['createNetwork', 'name=shared-100', 'displaytext=shared-100', `zoneid=${zone}`, 'guestiptype=Shared', 'vlan=100', 'gateway=10.50.0.1', 'netmask=255.255.255.0', 'startip=10.50.0.10', 'endip=10.50.0.20']);
    const sharedId = (shared.json['network'] as { id: string }).id;
    const other = await cs(['createNetwork', 'name=l2-300', 'displaytext=l2-300', `zoneid=${zone}`, 'vlan=300']);
    const otherId = (other.json['network'] as { id: string }).id;
    const netBefore = dbState();
    for (const [args, text] of [
      [[...base, 'nicnetworklist[0].nic=nic0', `nicnetworklist[0].network=${sharedId}`, 'nicipaddresslist[0].nic=nic0', 'nicipaddresslist[0].ip4Address=auto'], 'nicipaddresslist: ip4Address=auto for NIC nic0 needs exactly one IPv4 address from the guest, which reports 10.50.0.11, 10.50.0.12'],
      [[...base, 'nicnetworklist[0].nic=nic0', `nicnetworklist[0].network=${otherId}`], 'nicnetworklist: NIC nic0 is on VLAN 100, network l2-300 on VLAN 300'],
      [[...base, 'nicnetworklist[0].nic=nic0', `nicnetworklist[0].network=${sharedId}`, 'nicipaddresslist[0].nic=nic0', 'nicipaddresslist[0].ip4Address=10.50.0.300'], 'nicipaddresslist: 10.50.0.300 for NIC nic0 is not an IPv4 address'],
    ] as [string[], string][]) {
      const res = await cs(['importUnmanagedInstance', ...args]);
      expect(errorOf(res), text).toMatchObject({ errorcode: 431, errortext: expect.stringContaining(text) });
    }
    expect(dbState()).toBe(netBefore);
    const tagged = await cs(['createServiceOffering', 'name=tagged', 'displaytext=tagged', 'hosttags=ssd']);
    const tagBefore = dbState();
    const r48 = await cs(['importUnmanagedInstance', ...without('serviceofferingid='), `serviceofferingid=${(tagged.json['serviceoffering'] as { id: string }).id}`]);
    expect(errorOf(r48)).toMatchObject({ errorcode: 431, errortext: expect.stringContaining('serviceofferingid: offering tagged needs host tag ssd, which host sim-host-1 of VM cs-web lacks; pass migrateallowed=true') });
    expect(dbState()).toBe(tagBefore);
  });

  it('imports, refuses a restore to the dummy template, unmanages (the VM stays on its host) and re-imports with forced', async () => {
    const imported = await cs(['importUnmanagedInstance', `clusterid=${ids['cluster']}`, 'name=cs-small', `serviceofferingid=${ids['Small Instance']}`]);
    expect(imported.code, JSON.stringify(imported.json)).toBe(0);
    const vm = imported.json['virtualmachine'] as { id: string; state: string; templatename: string; consolenote: string };
    expect(vm).toMatchObject({ state: 'Running', templatename: 'kiln-import-default', consolenote: expect.stringContaining('stopped and started through Kiln') });
    const before = dbState();
    const restore = await cs(['restoreVirtualMachine', `virtualmachineid=${vm.id}`]);
    expect(errorOf(restore)).toMatchObject({ errorcode: 431, errortext: expect.stringContaining('cannot be restored to') });
    expect(dbState()).toBe(before);

    const zone = ((await cs(['listZones'])).json['zone'] as { id: string }[])[0]!.id;
    expect((await cs(['updateConfiguration', 'name=unmanage.vm.preserve.nics', 'value=true', `zoneid=${zone}`])).code).toBe(0);
    const un = await cs(['unmanageVirtualMachine', `id=${vm.id}`]);
    expect(un.code, JSON.stringify(un.json)).toBe(0);
    expect((await cs(['listVirtualMachines', `id=${vm.id}`])).json['virtualmachine']).toBeUndefined();
    const listed = (await cs(['listUnmanagedInstances', `clusterid=${ids['cluster']}`, 'name=cs-small'])).json['unmanagedinstance'] as { powerstate: string; notimportablereason: string[] }[];
    expect(listed[0]!.powerstate).toBe('PowerOn');
    expect(listed[0]!.notimportablereason.join()).toContain('pass forced=true to reuse it');
    const noForce = dbState();
    const refused = await cs(['importUnmanagedInstance', `clusterid=${ids['cluster']}`, 'name=cs-small', `serviceofferingid=${ids['Small Instance']}`]);
    expect(errorOf(refused)).toMatchObject({ errorcode: 431, errortext: expect.stringMatching(/^forced: .*pass forced=true to reuse it/) });
    expect(dbState()).toBe(noForce);
    const again = await cs(['importUnmanagedInstance', `clusterid=${ids['cluster']}`, 'name=cs-small', `serviceofferingid=${ids['Small Instance']}`, 'forced=true']);
    expect(again.code, JSON.stringify(again.json)).toBe(0);

    // R39: an ISO in the drive refuses the unmanage, with the reason.
    const iso = ((await cs(['listIsos', 'isofilter=executable'])).json['iso'] as { id: string }[])[0]!.id;
    const fromIso = await cs(['deployVirtualMachine', `zoneid=${zone}`, `templateid=${iso}`, `serviceofferingid=${ids['Small Instance']}`, `diskofferingid=${ids['disk']}`, 'name=cs-iso']);
    const isoVm = (fromIso.json['virtualmachine'] as { id: string }).id;
    const isoBefore = dbState();
    expect(errorOf(await cs(['unmanageVirtualMachine', `id=${isoVm}`]))).toMatchObject({ errorcode: 431, errortext: expect.stringContaining('attached; detach it before unmanaging') });
    expect(dbState()).toBe(isoBefore);
  });
});
