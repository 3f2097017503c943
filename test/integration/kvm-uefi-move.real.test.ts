/**
 * A stopped UEFI VM moved cold to another host's pool carries its UEFI variable store (issue 13,
 * R48 on KVM; drivers/kvm/nvram-move.ts), on real hosts with OVMF (the ovmf package, which
 * test/kvm-hosts/hosts.sh installs). libvirt keeps a domain's nvram file per host
 * (/var/lib/libvirt/qemu/nvram, which the harness gives each host its own of); a host without it
 * makes a fresh one from the firmware's template at the next start, which would reset every
 * variable the firmware and guest wrote (boot entries, their order, Secure Boot keys).
 *
 * A hand-made domain with `<os firmware='efi'>` (libvirt picks OVMF) and its root disk on the
 * shared `kiln` pool is imported stopped, started through Kiln (OVMF writes its variables: the
 * file then differs from the template), and stopped. Moved with migrateVirtualMachineWithVolume
 * to pool B on host2:
 *  - while host2 already has a file of that name, the move is refused and nothing changes;
 *  - then it moves: host2's nvram file has the very SHA-256 host1's had (not the template's),
 *    host1's is gone with its definition, and the VM starts on host2 under OVMF with that file
 *    (the live definition names it) and boots to its shell.
 * Every domain, volume, nvram file and pool is removed after. KILN_KVM_WORK selects the host set.
 */
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { kvmHostsOrSkip, kvmZone, onHost, type KvmZone } from '../helpers/kvm-zone.js';
import { defineDirPool, removeDirPool } from '../helpers/kvm-dir-pool.js';
import { handMadeDomainXml } from '../helpers/hand-made-domain.js';
import { jobOutcome } from '../helpers/hand-made-imports.js';
import { nvramFile as nvramFileOf, sha256, TEMPLATE_VARS, uefiAfterAll } from '../helpers/uefi-vm.js';
import { ConsoleTap, WORK } from '../kvm/real-hosts.js';

const hosts = kvmHostsOrSkip();
let z: KvmZone;
const [H2] = [hosts?.hosts[1]?.address];
const tag = `${process.pid.toString(36)}${Date.now().toString(36).slice(-4)}`;
const POOL_B = { host: 'host2', name: `kiln-uefib-${tag}`, dir: path.join(WORK, `uefib-${tag}`) };
const NAME = `vm-uefi-${tag}`;
const ROOT = `${NAME}-root.qcow2`;
const MAC = `52:54:00:6d:${(process.pid % 256).toString(16).padStart(2, '0')}:01`;
const nvramFile = (host: string) => nvramFileOf(host, NAME);
const job = (command: string, params: Record<string, string>) => jobOutcome(z, command, params);

describe.skipIf(!hosts)('KVM: a stopped UEFI VM moved cold to another host takes its nvram file along', () => {
  let vm: string;
  let tap: ConsoleTap | undefined;
  const virsh = (host: string, ...args: string[]) => onHost(host, 'virsh', ...args);
  const openConsole = async () => {
    tap?.close();
    tap = new ConsoleTap(await z.t.engine.vms.openConsole(z.t.admin, vm));
    return tap;
  };

  beforeAll(async () => {
    // OVMF is on every host (they share the machine's /usr): without it this test proves nothing.
    expect(existsSync(TEMPLATE_VARS), 'OVMF missing: test/kvm-hosts/hosts.sh setup installs the ovmf package').toBe(true);
    defineDirPool(POOL_B.host, POOL_B.name, POOL_B.dir);
    virsh('host1', 'vol-create-as', hosts!.poolName, ROOT, '64M', '--format', 'qcow2', '--backing-vol', 'kiln-template.qcow2', '--backing-vol-format', 'qcow2');
    const xml = handMadeDomainXml(hosts!, NAME, [path.join(hosts!.storagePath, ROOT)], [MAC])
      .replace('<os>', "<os firmware='efi'>")
      .replace("<memory unit='MiB'>128</memory>", "<memory unit='MiB'>256</memory>");
    expect(xml).toContain("<os firmware='efi'>");
    const file = path.join(POOL_B.dir, `${NAME}.xml`);
    writeFileSync(file, xml);
    virsh('host1', 'define', file);
    rmSync(file);
    z = await kvmZone(hosts!, ['host1', 'host2']);
  }, 180_000);

  uefiAfterAll(() => ({ z, tap }), { name: NAME, root: ROOT, pool: hosts?.poolName ?? 'kiln' }, () => removeDirPool(POOL_B.host, POOL_B.name, POOL_B.dir));

  it('imported stopped and started through Kiln, the VM boots under OVMF, which writes its own nvram file on host1', async () => {
    const imported = await job('importUnmanagedInstance', { clusterid: z.clusterid, name: NAME, serviceofferingid: z.tiny, 'nicnetworklist[0].nic': 'nic0', 'nicnetworklist[0].network': z.network });
    expect(imported.status, imported.text).toBe(200);
    vm = (imported.result['virtualmachine'] as { id: string }).id;
    expect(existsSync(nvramFile('host1'))).toBe(false);
    const started = await job('startVirtualMachine', { id: vm });
    expect(started.status, started.text).toBe(200);
    const live = virsh('host1', 'dumpxml', NAME);
    expect(live).toMatch(/<loader readonly='yes' type='pflash'>\/usr\/share\/OVMF\/OVMF_CODE[^<]*<\/loader>/);
    expect(live).toContain(`>/var/lib/libvirt/qemu/nvram/${NAME}_VARS.fd</nvram>`);
    const console = await openConsole();
    await console.waitFor(/KILN-GUEST-READY/, 120_000).catch(() => undefined);
    await console.runPatiently('head -c 16 /dev/vda; echo; echo efi-$((7+7)) $(ls -d /sys/firmware/efi 2>/dev/null)', /KILN-TEMPLATE-V1\nefi-14 \/sys\/firmware\/efi/, 120_000);
    tap?.close();
    expect((await job('stopVirtualMachine', { id: vm, forced: 'true' })).status).toBe(200);
    // OVMF wrote variables: the file is no longer the template.
    expect(sha256(nvramFile('host1'))).not.toBe(sha256(TEMPLATE_VARS));
  }, 300_000);

  it('a file of that name already on host2 is not overwritten: the move is refused and the VM, its disk and its nvram stay on host1', async () => {
    const before = sha256(nvramFile('host1'));
    writeFileSync(nvramFile('host2'), 'someone else\'s\n');
    try {
      const root = ((await z.t.ok('listVolumes', { virtualmachineid: vm, type: 'ROOT' }))['volume'] as { id: string }[])[0]!.id;
      const refused = await job('migrateVirtualMachineWithVolume', { virtualmachineid: vm, 'migrateto[0].volume': root, 'migrateto[0].pool': POOL_B.name });
      expect(refused.status).toBe(431);
      expect(refused.text).toContain(`cannot copy the UEFI variable store of ${NAME} to host`);
      expect(refused.text).toContain('exists already');
      expect(readFileSync(nvramFile('host2'), 'utf8')).toBe('someone else\'s\n');
      expect(virsh('host2', 'list', '--all', '--name')).not.toContain(NAME);
      expect(onHost('host2', 'sh', '-c', 'virsh pool-refresh "$1" >/dev/null && virsh vol-list "$1"', 'sh', POOL_B.name)).not.toContain(ROOT);
      expect(virsh('host1', 'domstate', NAME).trim()).toBe('shut off');
      expect(sha256(nvramFile('host1'))).toBe(before);
      expect(existsSync(path.join(hosts!.storagePath, ROOT))).toBe(true);
    } finally {
      rmSync(nvramFile('host2'), { force: true });
    }
  }, 120_000);

  it('moved to pool B on host2, the VM takes its nvram file along (same SHA-256), host1 keeps none, and it boots there under OVMF from it', async () => {
    const carried = sha256(nvramFile('host1'));
    const root = ((await z.t.ok('listVolumes', { virtualmachineid: vm, type: 'ROOT' }))['volume'] as { id: string }[])[0]!.id;
    const moved = await job('migrateVirtualMachineWithVolume', { virtualmachineid: vm, 'migrateto[0].volume': root, 'migrateto[0].pool': POOL_B.name });
    expect(moved.status, moved.text).toBe(200);
    expect(virsh('host1', 'list', '--all', '--name')).not.toContain(NAME);
    expect(existsSync(nvramFile('host1'))).toBe(false);
    expect(sha256(nvramFile('host2'))).toBe(carried);
    expect(virsh('host2', 'dumpxml', '--inactive', NAME)).toContain("<os firmware='efi'>");
    const onB = path.join(POOL_B.dir, ROOT);
    expect(virsh('host2', 'dumpxml', '--inactive', NAME)).toContain(`file='${onB}'`);

    const started = await job('startVirtualMachine', { id: vm });
    expect(started.status, started.text).toBe(200);
    expect((started.result['virtualmachine'] as { hostname: string }).hostname).toBe(H2);
    expect(virsh('host2', 'dumpxml', NAME)).toContain(`>/var/lib/libvirt/qemu/nvram/${NAME}_VARS.fd</nvram>`);
    const console = await openConsole();
    await console.waitFor(/KILN-GUEST-READY/, 120_000).catch(() => undefined);
    await console.runPatiently('head -c 16 /dev/vda; echo; echo efi-$((8+8)) $(ls -d /sys/firmware/efi 2>/dev/null)', /KILN-TEMPLATE-V1\nefi-16 \/sys\/firmware\/efi/, 120_000);
  }, 300_000);
});
