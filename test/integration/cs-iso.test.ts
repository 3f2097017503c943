/**
 * ISOs with Debian's `cs` client against a real `kiln serve` on the simulator: an ISO made with
 * genisoimage is registered by http URL (registerIso) and downloaded into the image store, a blank
 * VM is deployed from it with a disk offering (R6), the ISO is detached and attached again while
 * the VM runs (the simulated host's definition follows), each refusal is a 431 naming its
 * parameter with nothing written, and the VM, its ISO detached, is still restored from an ISO.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startKiln, type KilnProcess } from '../helpers/server.js';
import { csClient, csError } from '../helpers/cs-client.js';

let kiln: KilnProcess;
let dir: string;
let server: Server;
let base: string;

const cs = csClient(() => kiln);
const errorOf = csError;

/** What an ISO command writes: the VMs' drives and the ISO rows. */
function dbState(): string {
  const db = new Database(join(kiln.dataDir, 'kiln.db'), { readonly: true, fileMustExist: true });
  try {
    return JSON.stringify([db.prepare('SELECT id, iso_id, template_id, state FROM vm_instances ORDER BY id').all(), db.prepare('SELECT id, uuid, state FROM templates ORDER BY id').all()]);
  } finally {
    db.close();
  }
}

/** The ISO the simulated host's definition of the VM has in its drive. */
function simulatedIso(instanceName: string): string | undefined {
  const world = JSON.parse(readFileSync(join(kiln.dataDir, 'simulator.json'), 'utf8')) as { hosts: Record<string, { domains: Record<string, { spec: { isoPath?: string } }> }> };
  for (const host of Object.values(world.hosts)) {
    const domain = host.domains[instanceName];
    if (domain) return domain.spec.isoPath;
  }
  throw new Error(`no simulated domain ${instanceName}`);
}

async function waitReady(id: string): Promise<Record<string, unknown>> {
  for (let i = 0; i < 100; i++) {
    const iso = ((await cs(['listIsos', `id=${id}`])).json['iso'] as Record<string, unknown>[])[0]!;
    if (iso['isready'] === true) return iso;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`ISO ${id} never became ready`);
}

describe('cs: ISOs (registerIso, deploy from an ISO, attachIso, detachIso) against kiln serve', () => {
  const ids: Record<string, string> = {};
  let iso: Buffer;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'kiln-cs-iso-'));
    mkdirSync(join(dir, 'root'));
    writeFileSync(join(dir, 'root', 'README.TXT'), 'Kiln installer test ISO\n');
    execFileSync('genisoimage', ['-quiet', '-V', 'KILN_INSTALL', '-o', join(dir, 'install.iso'), join(dir, 'root')]);
    iso = readFileSync(join(dir, 'install.iso'));
    server = createServer((req, res) => {
      if (req.url !== '/install.iso') return void res.writeHead(404).end();
      res.writeHead(200, { 'content-length': String(iso.length) }).end(iso);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    kiln = await startKiln({ args: ['--no-ui'] });
    ids['zone'] = ((await cs(['listZones'])).json['zone'] as { id: string }[])[0]!.id;
    ids['template'] = ((await cs(['listTemplates', 'templatefilter=executable', 'name=Debian 12'])).json['template'] as { id: string }[])[0]!.id;
    ids['offering'] = ((await cs(['listServiceOfferings', 'name=Small Instance'])).json['serviceoffering'] as { id: string }[])[0]!.id;
    ids['disk'] = ((await cs(['listDiskOfferings', 'name=Small'])).json['diskoffering'] as { id: string }[])[0]!.id;
    ids['os'] = ((await cs(['listOsTypes', 'description=Other Linux (64-bit)'])).json['ostype'] as { id: string }[])[0]!.id;
  });
  afterAll(async () => {
    kiln?.stop();
    server?.closeAllConnections();
    await new Promise((resolve) => server?.close(resolve));
    rmSync(dir, { recursive: true, force: true });
  });

  it('registerIso downloads the ISO by http URL; listIsos shows it ready with its size', async () => {
    const sha = execFileSync('sha256sum', [join(dir, 'install.iso')], { encoding: 'utf8' }).split(' ')[0]!;
    const res = await cs(['registerIso', 'name=installer', `url=${base}/install.iso`, `zoneid=${ids['zone']}`, `ostypeid=${ids['os']}`, `checksum={SHA-256}${sha}`]);
    expect(res.code, res.stderr).toBe(0);
    const registered = (res.json['iso'] as { id: string; isready: boolean; format: string }[])[0]!;
    expect(registered).toMatchObject({ isready: false, format: 'ISO' });
    ids['iso'] = registered.id;
    expect(await waitReady(registered.id)).toMatchObject({ name: 'installer', isready: true, status: 'Download Complete', bootable: true, physicalsize: iso.length });
  });

  it('deploys a blank VM from the ISO with a disk offering: its root disk is the offering size and the ISO is in its drive', async () => {
    const refused = await cs(['deployVirtualMachine', `zoneid=${ids['zone']}`, `templateid=${ids['iso']}`, `serviceofferingid=${ids['offering']}`]);
    expect(errorOf(refused)).toMatchObject({ errorcode: 431, errortext: expect.stringMatching(/^diskofferingid: /) });
    const res = await cs(['deployVirtualMachine', `zoneid=${ids['zone']}`, `templateid=${ids['iso']}`, `serviceofferingid=${ids['offering']}`, `diskofferingid=${ids['disk']}`, 'name=iso-install']);
    expect(res.code, res.stderr).toBe(0);
    const vm = res.json['virtualmachine'] as { id: string; state: string; isoid: string; isoname: string; instancename: string };
    expect(vm).toMatchObject({ state: 'Running', isoid: ids['iso'], isoname: 'installer' });
    ids['vm'] = vm.id;
    ids['instance'] = vm.instancename;
    const root = ((await cs(['listVolumes', `virtualmachineid=${vm.id}`, 'type=ROOT'])).json['volume'] as { size: number }[])[0]!;
    expect(root.size).toBe(5 * 1024 ** 3);
    expect(simulatedIso(vm.instancename)).toBe(`kiln-iso-${ids['iso']}.iso`);
  });

  it('refuses a second ISO while one is attached with a 431 naming the parameter and nothing written', async () => {
    const before = dbState();
    const second = await cs(['attachIso', `id=${ids['iso']}`, `virtualmachineid=${ids['vm']}`]);
    expect(errorOf(second)).toMatchObject({ errorcode: 431, errortext: 'virtualmachineid: VM iso-install already has ISO installer attached; detach it first' });
    expect(dbState()).toBe(before);
  });

  it('detaches the ISO from the running VM and attaches it again: the host definition follows each time', async () => {
    const detached = await cs(['detachIso', `virtualmachineid=${ids['vm']}`]);
    expect(detached.code, detached.stderr).toBe(0);
    const after = detached.json['virtualmachine'] as Record<string, unknown>;
    expect(after['state']).toBe('Running');
    expect(after['isoid']).toBeUndefined();
    expect(simulatedIso(ids['instance']!)).toBeUndefined();

    const before = dbState();
    const empty = await cs(['detachIso', `virtualmachineid=${ids['vm']}`]);
    expect(errorOf(empty)).toMatchObject({ errorcode: 431, errortext: 'virtualmachineid: VM iso-install has no ISO attached' });
    const notIso = await cs(['attachIso', `id=${ids['template']}`, `virtualmachineid=${ids['vm']}`]);
    expect(errorOf(notIso)).toMatchObject({ errorcode: 431, errortext: expect.stringMatching(/^id: Debian 12.* is a template, not an ISO$/) });
    expect(dbState()).toBe(before);

    const attached = await cs(['attachIso', `id=${ids['iso']}`, `virtualmachineid=${ids['vm']}`]);
    expect(attached.code, attached.stderr).toBe(0);
    expect(attached.json['virtualmachine']).toMatchObject({ state: 'Running', isoid: ids['iso'], isoname: 'installer' });
    expect(simulatedIso(ids['instance']!)).toBe(`kiln-iso-${ids['iso']}.iso`);
  });

  it('refuses an ISO that is not ready and another account\'s private ISO (431 naming id); a stopped VM gets its ISO at the next start', async () => {
    // A download that fails (404) leaves an ISO that never becomes ready.
    const broken = (((await cs(['registerIso', 'name=broken', `url=${base}/missing.iso`, `zoneid=${ids['zone']}`, `ostypeid=${ids['os']}`])).json['iso']) as { id: string }[])[0]!.id;
    const created = await cs(['createAccount', 'username=iso-user', 'password=iso-pw-1', 'email=iso@example.org', 'firstname=Iso', 'lastname=User', '--post']);
    const user = (created.json['account'] as { user: { id: string }[] }).user[0]!;
    const keys = (await cs(['registerUserKeys', `id=${user.id}`])).json['userkeys'] as { apikey: string; secretkey: string };
    const asUser = { CLOUDSTACK_KEY: keys.apikey, CLOUDSTACK_SECRET: keys.secretkey };
    // Users cannot download from this machine's addresses; the admin publishes one for them.
    const publicIso = ((await cs(['registerIso', 'name=for-everyone', 'ispublic=true', `url=${base}/install.iso`, `zoneid=${ids['zone']}`, `ostypeid=${ids['os']}`])).json['iso'] as { id: string }[])[0]!.id;
    await waitReady(publicIso);
    const userVm = (await cs(['deployVirtualMachine', `zoneid=${ids['zone']}`, `templateid=${ids['template']}`, `serviceofferingid=${ids['offering']}`, 'name=user-vm', 'startvm=false'], asUser)).json['virtualmachine'] as { id: string };
    // The internal name is shown to admins only.
    const userInstance = ((await cs(['listVirtualMachines', `id=${userVm.id}`])).json['virtualmachine'] as { instancename: string }[])[0]!.instancename;

    // The public ISO into the user's VM, not started yet (Created): refused until it is Stopped or Running.
    const created2 = await cs(['attachIso', `id=${publicIso}`, `virtualmachineid=${userVm.id}`], asUser);
    expect(errorOf(created2)).toMatchObject({ errorcode: 431, errortext: expect.stringMatching(/^virtualmachineid: VM user-vm is Created; /) });
    expect((await cs(['startVirtualMachine', `id=${userVm.id}`], asUser)).code).toBe(0);
    expect((await cs(['stopVirtualMachine', `id=${userVm.id}`, 'forced=true'], asUser)).code).toBe(0);
    await cs(['detachIso', `virtualmachineid=${ids['vm']}`]);
    for (;;) {
      const row = ((await cs(['listIsos', `id=${broken}`])).json['iso'] as { status: string }[])[0]!;
      if (row.status.startsWith('Download Failed')) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const before = dbState();
    const notReady = await cs(['attachIso', `id=${broken}`, `virtualmachineid=${ids['vm']}`]);
    expect(errorOf(notReady)).toMatchObject({ errorcode: 431, errortext: expect.stringMatching(/^id: ISO broken is not ready: /) });
    // The user cannot use the admin's private ISO, nor the admin put it into the user's VM.
    const othersIso = await cs(['attachIso', `id=${ids['iso']}`, `virtualmachineid=${userVm.id}`]);
    expect(errorOf(othersIso)).toMatchObject({ errorcode: 431, errortext: 'id: ISO installer belongs to another account than VM user-vm' });
    const adminsIso = await cs(['attachIso', `id=${ids['iso']}`, `virtualmachineid=${userVm.id}`], asUser);
    expect(errorOf(adminsIso)).toMatchObject({ errorcode: 431, errortext: expect.stringMatching(/^id: ISO installer is not available to account /) });
    expect(dbState()).toBe(before);

    const stopped = await cs(['attachIso', `id=${publicIso}`, `virtualmachineid=${userVm.id}`], asUser);
    expect(stopped.json['virtualmachine']).toMatchObject({ state: 'Stopped', isoid: publicIso });
    expect(simulatedIso(userInstance)).toBeUndefined();
    expect((await cs(['startVirtualMachine', `id=${userVm.id}`], asUser)).code).toBe(0);
    expect(simulatedIso(userInstance)).toBe(`kiln-iso-${publicIso}.iso`);
  });

  it('restores a VM installed from an ISO after the ISO was detached: from an ISO, never a template', async () => {
    const vm = ((await cs(['listVirtualMachines', `id=${ids['vm']}`])).json['virtualmachine'] as Record<string, unknown>[])[0]!;
    expect(vm['isoid']).toBeUndefined();
    const fromTemplate = await cs(['restoreVirtualMachine', `virtualmachineid=${ids['vm']}`, `templateid=${ids['template']}`]);
    expect(errorOf(fromTemplate)).toMatchObject({ errorcode: 431, errortext: 'templateid: a VM made from an ISO can only be restored from an ISO' });
    const restored = await cs(['restoreVirtualMachine', `virtualmachineid=${ids['vm']}`, `templateid=${ids['iso']}`]);
    expect(restored.code, restored.stderr).toBe(0);
    expect(restored.json['virtualmachine']).toMatchObject({ state: 'Running', isoid: ids['iso'] });
    expect((restored.json['virtualmachine'] as Record<string, unknown>)['templateid']).toBeUndefined();
  });
});
