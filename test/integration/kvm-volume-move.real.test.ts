/**
 * KVM storage motion of a stopped VM (issue 13, R48 on KVM), on real hosts. This test defines two
 * more dir pools on host1 besides the harness's `kiln` pool: one tagged `fast`, one tagged `ro`
 * whose directory is made immutable (chattr +i: even root's libvirtd cannot create a file in it).
 * Hand-made, shut-off domains with their disk in the untagged `kiln` pool (a qcow2 linked to the
 * harness's template) are imported with migrateallowed=true for an offering with a storage tag:
 *  - `fast`: the disk is copied into the tagged pool (self-contained, the template's bytes in it),
 *    the domain points at the copy, the source is gone, Kiln's volume is on that pool's record, and
 *    the VM starts under Kiln from there;
 *  - `ro`: the copy fails; the job says why, the domain still points at its disk in `kiln`, that
 *    disk is still there, and nothing is left in the read-only pool.
 * A running domain's disk is copied live (block copy) into the tagged pool, the guest running on.
 * The host set comes from KILN_KVM_WORK (the default set otherwise); every domain, volume and
 * both pools are removed after.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { kvmHostsOrSkip, onHost } from '../helpers/kvm-zone.js';
import { WORK } from '../kvm/real-hosts.js';
import { handMadeImportZone, jobOutcome, migratingImport, rootDisk as disk } from '../helpers/hand-made-imports.js';

const hosts = kvmHostsOrSkip();
const tag = `${process.pid.toString(36)}${Date.now().toString(36).slice(-4)}`;
const POOLS = { fast: { name: `kiln-mvfast-${tag}`, dir: path.join(WORK, `mvfast-${tag}`) }, ro: { name: `kiln-mvro-${tag}`, dir: path.join(WORK, `mvro-${tag}`) } };
const DOMAINS = { moved: `vm-move-${tag}`, stuck: `vm-stuck-${tag}`, running: `vm-run-${tag}` };
const mac = (i: number) => `52:54:00:6b:${(process.pid % 256).toString(16).padStart(2, '0')}:0${i}`;

const virsh = (...args: string[]) => onHost('host1', 'virsh', ...args);

/** The first 16 guest bytes of a disk image, read on the host (qemu-img follows any backing chain). */
function firstBytes(file: string): string {
  return onHost('host1', 'sh', '-c', 't=$(mktemp) && qemu-img dd -U -O raw bs=16 count=1 if="$1" of="$t" && head -c 16 "$t"; r=$?; rm -f "$t"; exit $r', 'sh', file);
}

describe.skipIf(!hosts)('KVM: a stopped VM\'s disk moves to a tagged pool of its host (import with migrateallowed)', () => {
  let offerings: Record<'fast' | 'ro', string>;
  const z = handMadeImportZone(hosts!, {
    pools: Object.values(POOLS).map((pool) => ({ host: 'host1', ...pool })),
    domains: Object.values(DOMAINS),
    mac: (i) => mac(i + 1),
    withZone: async () => {
      for (const t of ['fast', 'ro'] as const) await z.t.ok('updateStoragePool', { id: await poolId(POOLS[t].name), tags: `${t}${tag}` });
      const offering = async (t: 'fast' | 'ro') => ((await z.t.ok('createServiceOffering', { name: `kvm-tiny-${t}-${tag}`, cpunumber: '1', cpuspeed: '100', memory: '128', tags: `${t}${tag}` }))['serviceoffering'] as { id: string }).id;
      offerings = { fast: await offering('fast'), ro: await offering('ro') };
    },
    leftovers: () => {
      try {
        execFileSync('chattr', ['-i', POOLS.ro.dir], { stdio: 'ignore' });
      } catch {
        // never made, or already writable
      }
    },
  });
  const job = (command: string, params: Record<string, string>) => jobOutcome(z, command, params);

  async function poolId(name: string): Promise<string> {
    const listed = ((await z.t.ok('listStoragePools', { name }))['storagepool'] as { id: string }[] | undefined) ?? [];
    expect(listed).toHaveLength(1);
    return listed[0]!.id;
  }

  const params = (name: string, offering: string) => migratingImport(z, name, offering);

  it('copies the disk into the tagged pool, points the domain at it, deletes the source, and the VM starts from there', async () => {
    const source = path.join(hosts!.storagePath, disk(DOMAINS.moved));
    const copy = path.join(POOLS.fast.dir, disk(DOMAINS.moved));
    expect(firstBytes(source)).toBe('KILN-TEMPLATE-V1');

    const imported = await job('importUnmanagedInstance', params(DOMAINS.moved, offerings.fast));
    expect(imported.status, imported.text).toBe(200);
    const vm = imported.result['virtualmachine'] as { id: string; state: string };
    expect(vm.state).toBe('Stopped');

    expect(virsh('domblklist', DOMAINS.moved)).toMatch(new RegExp(`vda\\s+${copy.replace(/[.]/g, '\\.')}`));
    expect(existsSync(copy)).toBe(true);
    expect(existsSync(source)).toBe(false);
    expect(virsh('vol-list', hosts!.poolName)).not.toContain(disk(DOMAINS.moved));
    // Self-contained: no backing file, the template's bytes inside.
    expect(onHost('host1', 'qemu-img', 'info', copy)).not.toContain('backing file');
    expect(firstBytes(copy)).toBe('KILN-TEMPLATE-V1');
    const row = z.t.engine.db.prepare(`SELECT v.pool, p.name AS record FROM volumes v JOIN vm_instances m ON m.id=v.vm_id LEFT JOIN storage_pools p ON p.id=v.pool_id WHERE m.uuid=? AND v.volume_type='ROOT' AND v.removed IS NULL`).get(vm.id);
    expect(row).toEqual({ pool: POOLS.fast.name, record: POOLS.fast.name });
    const events = ((await z.t.ok('listEvents', { type: 'VOLUME.MIGRATE' }))['event'] as { description: string }[] | undefined) ?? [];
    expect(events.map((e) => e.description).join('\n')).toContain(`to pool ${POOLS.fast.name}`);

    const started = await job('startVirtualMachine', { id: vm.id });
    expect(started.status, started.text).toBe(200);
    expect((started.result['virtualmachine'] as { state: string }).state).toBe('Running');
    expect(virsh('domblklist', DOMAINS.moved)).toContain(copy);
    expect((await job('stopVirtualMachine', { id: vm.id, forced: 'true' })).status).toBe(200);
  }, 240_000);

  it('a copy that fails (the target pool is read-only) leaves the domain, its disk and the pools as they were', async () => {
    execFileSync('chattr', ['+i', POOLS.ro.dir]);
    const source = path.join(hosts!.storagePath, disk(DOMAINS.stuck));
    const before = virsh('dumpxml', '--inactive', DOMAINS.stuck);

    const failed = await job('importUnmanagedInstance', params(DOMAINS.stuck, offerings.ro));
    expect(failed.status).toBe(530);
    expect(failed.text).toContain(`cannot copy disk ${disk(DOMAINS.stuck)} to pool ${POOLS.ro.name}`);
    expect(failed.text).toMatch(/Operation not permitted|Permission denied/);

    expect(virsh('dumpxml', '--inactive', DOMAINS.stuck)).toBe(before);
    expect(existsSync(source)).toBe(true);
    expect(firstBytes(source)).toBe('KILN-TEMPLATE-V1');
    expect(virsh('vol-list', POOLS.ro.name)).not.toContain(disk(DOMAINS.stuck));
    expect(virsh('domstate', DOMAINS.stuck).trim()).toBe('shut off');
    // The import itself stands (its move failed after it), Stopped, its volume still on kiln.
    const row = z.t.engine.db.prepare(`SELECT m.state, v.pool FROM volumes v JOIN vm_instances m ON m.id=v.vm_id WHERE m.instance_name=? AND v.volume_type='ROOT' AND v.removed IS NULL`).get(DOMAINS.stuck);
    expect(row).toEqual({ state: 'Stopped', pool: hosts!.poolName });
  }, 240_000);

  it('migrateVolume moves a stopped Kiln VM\'s root volume to another pool of its host, which its next start uses; to the read-only pool it fails and the volume stays', async () => {
    const deployed = await job('deployVirtualMachine', { zoneid: z.zoneid, templateid: z.templateid, serviceofferingid: z.tiny, networkids: z.network, hostid: z.hostIds['host1']!, name: `mv-kiln-${tag}` });
    expect(deployed.status, deployed.text).toBe(200);
    const vm = deployed.result['virtualmachine'] as { id: string };
    expect((await job('stopVirtualMachine', { id: vm.id, forced: 'true' })).status).toBe(200);
    const root = ((await z.t.ok('listVolumes', { virtualmachineid: vm.id, type: 'ROOT' }))['volume'] as { id: string; storage: string }[])[0]!;
    const name = z.t.engine.db.prepare('SELECT path FROM volumes WHERE uuid=?').pluck().get(root.id) as string;
    const domain = z.t.engine.db.prepare('SELECT internal_name FROM vm_instances WHERE uuid=?').pluck().get(vm.id) as string;
    const source = path.join(hosts!.storagePath, name);
    expect(existsSync(source)).toBe(true);

    const fastId = await poolId(POOLS.fast.name);
    const suitable = ((await z.t.ok('findStoragePoolsForMigration', { id: root.id }))['storagepool'] as { name: string; suitableformigration: boolean }[]).find((p) => p.name === POOLS.fast.name);
    expect(suitable?.suitableformigration).toBe(true);

    execFileSync('chattr', ['+i', POOLS.ro.dir]);
    const failed = await job('migrateVolume', { volumeid: root.id, storageid: await poolId(POOLS.ro.name) });
    expect(failed.status).toBe(530);
    expect(failed.text).toContain(`cannot copy disk ${name} to pool ${POOLS.ro.name}`);
    expect(existsSync(source)).toBe(true);
    expect(virsh('vol-list', POOLS.ro.name)).not.toContain(name);
    const poolOf = () => z.t.engine.db.prepare('SELECT p.name FROM volumes v JOIN storage_pools p ON p.id=v.pool_id WHERE v.uuid=?').pluck().get(root.id);
    expect(poolOf()).toBe(hosts!.poolName);

    const moved = await job('migrateVolume', { volumeid: root.id, storageid: fastId });
    expect(moved.status, moved.text).toBe(200);
    expect((moved.result['volume'] as { storage: string }).storage).toBe(POOLS.fast.name);
    expect(poolOf()).toBe(POOLS.fast.name);
    const copy = path.join(POOLS.fast.dir, name);
    expect(existsSync(copy)).toBe(true);
    expect(existsSync(source)).toBe(false);
    expect(virsh('domblklist', domain)).toContain(copy);
    expect(firstBytes(copy)).toBe('KILN-TEMPLATE-V1');
    const started = await job('startVirtualMachine', { id: vm.id });
    expect(started.status, started.text).toBe(200);
    expect(virsh('domblklist', domain)).toContain(copy);
    expect(existsSync(source)).toBe(false);

    const running = await z.t.call('migrateVolume', { volumeid: root.id, storageid: await poolId(POOLS.ro.name) });
    expect(running.status).toBe(431);
    expect(String(running.body['errortext'])).toContain('is Running; stop it first');
  }, 240_000);

  it('a running domain is imported and its disk copied live into the tagged pool (block copy): the same qemu runs on, from the copy', async () => {
    virsh('start', DOMAINS.running);
    const source = path.join(hosts!.storagePath, disk(DOMAINS.running));
    const copy = path.join(POOLS.fast.dir, disk(DOMAINS.running));
    // A restarted domain gets a new id: an unchanged one is the same qemu process.
    const id = virsh('domid', DOMAINS.running).trim();
    const imported = await job('importUnmanagedInstance', params(DOMAINS.running, offerings.fast));
    expect(imported.status, imported.text).toBe(200);
    expect((imported.result['virtualmachine'] as { state: string }).state).toBe('Running');
    expect(virsh('domid', DOMAINS.running).trim()).toBe(id);
    expect(virsh('domblklist', DOMAINS.running)).toMatch(new RegExp(`vda\\s+${copy.replace(/[.]/g, '\\.')}`));
    expect(virsh('dumpxml', '--inactive', DOMAINS.running)).toContain(`file='${copy}'`);
    expect(existsSync(source)).toBe(false);
    expect(firstBytes(copy)).toBe('KILN-TEMPLATE-V1');
    const row = z.t.engine.db.prepare(`SELECT v.pool, p.name AS record FROM volumes v JOIN vm_instances m ON m.id=v.vm_id LEFT JOIN storage_pools p ON p.id=v.pool_id WHERE m.instance_name=? AND v.volume_type='ROOT' AND v.removed IS NULL`).get(DOMAINS.running);
    expect(row).toEqual({ pool: POOLS.fast.name, record: POOLS.fast.name });
  }, 180_000);
});
