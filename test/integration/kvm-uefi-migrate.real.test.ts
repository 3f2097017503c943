/**
 * A UEFI VM's variable store (its nvram file, per host in /var/lib/libvirt/qemu/nvram) on the two
 * `virsh migrate` moves between hosts of a shared pool (drivers/kvm/nvram-move.ts
 * prepareNvramMigration, used by session.ts migrate), on real hosts with OVMF:
 *  - live (migrateVirtualMachine of the running VM): libvirt 9.0 / QEMU 7.2 give the destination
 *    a file with the guest's flash contents by themselves, but leave the source's behind; after
 *    the move host2's file has the SHA-256 host1's had at migration time (not the template's),
 *    host1 keeps none, and the VM stopped and started again on host2 boots under OVMF from it;
 *  - a live migration that fails for real (host2's incoming qemu killed while the guest's memory is
 *    copied, slowed down for that with virsh migrate-setspeed): host1's file keeps its SHA-256, the VM runs
 *    on host1 and answers, and host2 has no domain and no nvram file (libvirt made one there from
 *    the template for the incoming qemu; prepareNvramMigration's abandon removes it);
 *  - definition-only (`migrate --offline`, an imported VM's stopped definition carried to the host
 *    it is started on): libvirt moves no file, so Kiln copies it first; a file of that name already
 *    on host1 refuses the start with nothing changed; then the move carries it (same SHA-256),
 *    host2 keeps none, and the VM boots on host1 under OVMF.
 * The domain is hand-made with `<os firmware='efi'>` and imported (migrateallowed), its root disk
 * on the shared `kiln` pool. Everything it makes is removed after. KILN_KVM_WORK selects the set.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { kvmHostsOrSkip, kvmZone, onHost, type KvmZone } from '../helpers/kvm-zone.js';
import { handMadeDomainXml } from '../helpers/hand-made-domain.js';
import { jobOutcome } from '../helpers/hand-made-imports.js';
import { nvramFile as nvramFileOf, sha256, TEMPLATE_VARS, uefiAfterAll } from '../helpers/uefi-vm.js';
import { ConsoleTap, HOSTS_SH, WORK, waitUntil } from '../kvm/real-hosts.js';
import type { KvmSession } from '../../drivers/kvm/session.js';

const hosts = kvmHostsOrSkip();
let z: KvmZone;
const tag = `${process.pid.toString(36)}${Date.now().toString(36).slice(-4)}`;
const NAME = `vm-uefimig-${tag}`;
const ROOT = `${NAME}-root.qcow2`;
const MAC = `52:54:00:6e:${(process.pid % 256).toString(16).padStart(2, '0')}:01`;
const nvramFile = (host: string) => nvramFileOf(host, NAME);
const names = (host: string) => onHost(host, 'virsh', 'list', '--all', '--name');
const job = (command: string, params: Record<string, string>) => jobOutcome(z, command, params);
/** Whether HOST runs a qemu for the domain (its pid file names a qemu process, as hosts.sh kill-qemu reads it: before its exec the child is libvirt's). */
const runsQemu = (host: string): boolean => {
  try {
    const pid = readFileSync(path.join(WORK, 'hosts', host, 'run', 'qemu', `${NAME}.pid`), 'utf8').trim();
    return /^\d+$/.test(pid) && readFileSync(`/proc/${pid}/comm`, 'utf8').startsWith('qemu');
  } catch {
    return false;
  }
};

describe.skipIf(!hosts)('KVM: a UEFI VM migrated live or by definition takes its nvram file along', () => {
  let vm: string;
  let tap: ConsoleTap | undefined;
  const hostId = (name: string) => z.hostIds[name]!;
  /** Boots to the guest's shell and proves it runs under UEFI firmware (/sys/firmware/efi). */
  const bootsUnderOvmf = async (n: number) => {
    tap?.close();
    tap = new ConsoleTap(await z.t.engine.vms.openConsole(z.t.admin, vm));
    await tap.waitFor(/KILN-GUEST-READY/, 120_000).catch(() => undefined);
    await tap.runPatiently(`head -c 16 /dev/vda; echo; echo efi-$((${n}+${n})) $(ls -d /sys/firmware/efi 2>/dev/null)`, new RegExp(`KILN-TEMPLATE-V1\\nefi-${2 * n} /sys/firmware/efi`), 120_000);
    tap.close();
    tap = undefined;
  };

  beforeAll(async () => {
    expect(existsSync(TEMPLATE_VARS), 'OVMF missing: test/kvm-hosts/hosts.sh setup installs the ovmf package').toBe(true);
    onHost('host1', 'virsh', 'vol-create-as', hosts!.poolName, ROOT, '64M', '--format', 'qcow2', '--backing-vol', 'kiln-template.qcow2', '--backing-vol-format', 'qcow2');
    const xml = handMadeDomainXml(hosts!, NAME, [path.join(hosts!.storagePath, ROOT)], [MAC])
      .replace('<os>', "<os firmware='efi'>")
      .replace("<memory unit='MiB'>128</memory>", "<memory unit='MiB'>256</memory>");
    const file = path.join(hosts!.storagePath, `${NAME}.xml`);
    writeFileSync(file, xml);
    onHost('host1', 'virsh', 'define', file);
    rmSync(file);
    z = await kvmZone(hosts!, ['host1', 'host2'], undefined, { sharedPool: true });
  }, 180_000);

  uefiAfterAll(() => ({ z, tap }), { name: NAME, root: ROOT, pool: hosts?.poolName ?? 'kiln' });

  it('imported and started on host1, the VM boots under OVMF, which writes its nvram file there', async () => {
    const imported = await job('importUnmanagedInstance', { clusterid: z.clusterid, name: NAME, serviceofferingid: z.tiny, migrateallowed: 'true', 'nicnetworklist[0].nic': 'nic0', 'nicnetworklist[0].network': z.network });
    expect(imported.status, imported.text).toBe(200);
    vm = (imported.result['virtualmachine'] as { id: string }).id;
    const started = await job('startVirtualMachine', { id: vm, hostid: hostId('host1') });
    expect(started.status, started.text).toBe(200);
    expect(onHost('host1', 'virsh', 'dumpxml', NAME)).toContain(`>/var/lib/libvirt/qemu/nvram/${NAME}_VARS.fd</nvram>`);
    await bootsUnderOvmf(7);
    expect(sha256(nvramFile('host1'))).not.toBe(sha256(TEMPLATE_VARS));
    expect(existsSync(nvramFile('host2'))).toBe(false);
  }, 300_000);

  it("a live migration that fails for real (host2's incoming qemu killed during the memory copy) keeps host1's nvram file as it was, the VM running on host1, and nothing on host2", async () => {
    const before = sha256(nvramFile('host1'));
    // 1 MiB/s (libvirt applies the domain's speed to its next migration): the copy of its 256 MiB
    // lasts while host2's qemu is killed. Kiln's own migration names no bandwidth.
    onHost('host1', 'virsh', 'migrate-setspeed', NAME, '1');
    let made: boolean | undefined;
    let failure: { status: number; text: string } | undefined;
    try {
      const call = await z.t.call('migrateVirtualMachine', { virtualmachineid: vm, hostid: hostId('host2') });
      expect(call.status, JSON.stringify(call.body)).toBe(200);
      await waitUntil("host2's incoming qemu", async () => runsQemu('host2'), 120_000);
      // ... and the guest's memory on its way there (host1's migration job has sent some).
      await waitUntil('the memory copy', async () => /Memory processed:\s+[1-9]|Memory processed:\s+0\.0*[1-9]/.test(onHost('host1', 'virsh', 'domjobinfo', NAME)), 120_000);
      // libvirt made host2's nvram file (from the template) before it started that qemu.
      made = existsSync(nvramFile('host2'));
      execFileSync(HOSTS_SH, ['kill-qemu', 'host2', NAME], { stdio: 'ignore' });
      const done = await z.t.engine.jobs.wait(String(call.body['jobid']));
      const result = done['jobresult'] as { errorcode?: number; errortext?: string };
      failure = { status: done['jobstatus'] === 1 ? 200 : Number(result.errorcode), text: String(result.errortext) };
    } finally {
      onHost('host1', 'virsh', 'migrate-setspeed', NAME, '8796093022207');
    }
    expect(failure?.status, failure?.text).not.toBe(200);
    // libvirt's words depend on where the copy was ("job 'migration out' failed: Unable to write to socket", "qemu unexpectedly closed the monitor").
    expect(failure?.text).toMatch(/^error: /);
    expect(made, "host2's libvirt had made an nvram file for the incoming domain").toBe(true);
    // host1: the VM runs on, from the very file it had.
    expect(onHost('host1', 'virsh', 'domstate', NAME).trim()).toBe('running');
    expect(sha256(nvramFile('host1'))).toBe(before);
    const listed = ((await z.t.ok('listVirtualMachines', { id: vm }))['virtualmachine'] as { state: string; hostname: string }[])[0]!;
    expect(listed).toMatchObject({ state: 'Running', hostname: hosts!.hosts[0]!.address });
    // host2: no domain, and the file its libvirt made for it is gone.
    expect(names('host2')).not.toContain(NAME);
    expect(existsSync(nvramFile('host2')), "host2's nvram file for the failed migration is left behind").toBe(false);
    // The guest still answers on host1.
    tap = new ConsoleTap(await z.t.engine.vms.openConsole(z.t.admin, vm));
    await tap.runPatiently('echo efi-$((5+5)) $(ls -d /sys/firmware/efi 2>/dev/null)', /efi-10 \/sys\/firmware\/efi/, 120_000);
    tap.close();
    tap = undefined;
  }, 300_000);

  it('migrated live to host2: host2 has the file with the SHA-256 host1 had, host1 keeps none, and a stop and start on host2 boots under OVMF from it', async () => {
    const atMigration = sha256(nvramFile('host1'));
    const moved = await job('migrateVirtualMachine', { virtualmachineid: vm, hostid: hostId('host2') });
    expect(moved.status, moved.text).toBe(200);
    expect((moved.result['virtualmachine'] as { hostname: string }).hostname).toBe(hosts!.hosts[1]!.address);
    expect(onHost('host2', 'virsh', 'domstate', NAME).trim()).toBe('running');
    expect(names('host1')).not.toContain(NAME);
    expect(sha256(nvramFile('host2'))).toBe(atMigration);
    expect(existsSync(nvramFile('host1')), "host1's nvram file is left behind").toBe(false);

    expect((await job('stopVirtualMachine', { id: vm, forced: 'true' })).status).toBe(200);
    expect(sha256(nvramFile('host2'))).toBe(atMigration);
    const started = await job('startVirtualMachine', { id: vm, hostid: hostId('host2') });
    expect(started.status, started.text).toBe(200);
    expect((started.result['virtualmachine'] as { hostname: string }).hostname).toBe(hosts!.hosts[1]!.address);
    expect(onHost('host2', 'virsh', 'dumpxml', NAME)).toContain(`>/var/lib/libvirt/qemu/nvram/${NAME}_VARS.fd</nvram>`);
    await bootsUnderOvmf(8);
    expect((await job('stopVirtualMachine', { id: vm, forced: 'true' })).status).toBe(200);
  }, 300_000);

  it('a start on host1 while host1 has a file of that name already is refused: nothing overwritten, the definition and its file stay on host2', async () => {
    const onHost2 = sha256(nvramFile('host2'));
    writeFileSync(nvramFile('host1'), "someone else's\n");
    try {
      const refused = await job('startVirtualMachine', { id: vm, hostid: hostId('host1') });
      expect(refused.status).toBe(431);
      expect(refused.text).toContain(`cannot copy the UEFI variable store of ${NAME} to host`);
      expect(refused.text).toContain('exists already');
      expect(readFileSync(nvramFile('host1'), 'utf8')).toBe("someone else's\n");
      expect(names('host1')).not.toContain(NAME);
      expect(onHost('host2', 'virsh', 'domstate', NAME).trim()).toBe('shut off');
      expect(sha256(nvramFile('host2'))).toBe(onHost2);
      const listed = (await z.t.ok('listVirtualMachines', { id: vm }))['virtualmachine'] as { state: string }[];
      expect(listed[0]!.state).toBe('Stopped');
    } finally {
      rmSync(nvramFile('host1'), { force: true });
    }
  }, 120_000);

  it('its stopped definition moved to host1 (the driver\'s migrate --offline, as a start there does) takes the nvram file along (same SHA-256), host2 keeps none, and it boots there under OVMF', async () => {
    const carried = sha256(nvramFile('host2'));
    // The very call a start on another host makes (adopted-moves.ts carryDefinition); made alone
    // here so the arrived file can be read before OVMF writes to it again at the next boot.
    const session = async (name: string) => (await z.t.engine.hosts.session(z.t.engine.db.prepare('SELECT id FROM hosts WHERE uuid=?').pluck().get(hostId(name)) as number)) as unknown as KvmSession;
    await (await session('host2')).migrate(NAME, { session: await session('host1') });
    expect(names('host2')).not.toContain(NAME);
    expect(existsSync(nvramFile('host2')), "host2's nvram file is left behind").toBe(false);
    expect(onHost('host1', 'virsh', 'domstate', NAME).trim()).toBe('shut off');
    expect(sha256(nvramFile('host1'))).toBe(carried);

    const started = await job('startVirtualMachine', { id: vm, hostid: hostId('host1') });
    expect(started.status, started.text).toBe(200);
    expect((started.result['virtualmachine'] as { hostname: string }).hostname).toBe(hosts!.hosts[0]!.address);
    expect(onHost('host1', 'virsh', 'dumpxml', NAME)).toContain(`>/var/lib/libvirt/qemu/nvram/${NAME}_VARS.fd</nvram>`);
    await bootsUnderOvmf(9);
  }, 300_000);
});
