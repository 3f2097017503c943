/**
 * R48 on KVM across hosts: importUnmanagedInstance with migrateallowed=true of a domain on host1
 * whose offering's storage tag only a pool of host2 has (a dir pool defined on host2 alone, so
 * Kiln sees it as host2's local storage). The VM and its disk move to host2 and that pool:
 *  - running: live (virsh migrate --copy-storage-all into the volume Kiln made there); the domain
 *    runs on host2 from the pool's file, is gone from host1, its old file is gone, the row names the pool;
 *  - stopped: its disk streamed from host1 to host2 through Kiln, the definition with it.
 * The host set comes from KILN_KVM_WORK; every domain, volume and the pool are removed after.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { kvmHostsOrSkip, onHost } from '../helpers/kvm-zone.js';
import { WORK } from '../kvm/real-hosts.js';
import { handMadeImportZone, jobOutcome, migratingImport, rootDisk as disk } from '../helpers/hand-made-imports.js';

const hosts = kvmHostsOrSkip();
const tag = `${process.pid.toString(36)}${Date.now().toString(36).slice(-4)}`;
const POOL = { name: `kiln-imh-${tag}`, dir: path.join(WORK, `imh-${tag}`) };
const DOMAINS = { running: `vm-imr-${tag}`, stopped: `vm-ims-${tag}` };
const mac = (i: number) => `52:54:00:6c:${(process.pid % 256).toString(16).padStart(2, '0')}:0${i}`;
const H2 = hosts?.hosts[1]?.address;

describe.skipIf(!hosts)('KVM: an imported VM goes with its disk to the host whose pool has its storage tag (migrateallowed), live when it runs', () => {
  let offering: string;
  const z = handMadeImportZone(hosts!, {
    pools: [{ host: 'host2', ...POOL }],
    domains: Object.values(DOMAINS),
    mac: (i) => mac(i + 1),
    beforeZone: () => onHost('host1', 'virsh', 'start', DOMAINS.running),
    withZone: async (z) => {
      const pool = ((await z.t.ok('listStoragePools', { name: POOL.name }))['storagepool'] as { id: string }[])[0]!.id;
      await z.t.ok('updateStoragePool', { id: pool, tags: `far${tag}` });
      offering = ((await z.t.ok('createServiceOffering', { name: `kvm-far-${tag}`, cpunumber: '1', cpuspeed: '100', memory: '128', tags: `far${tag}` }))['serviceoffering'] as { id: string }).id;
    },
  });
  const row = (name: string) => z.t.engine.db.prepare(`SELECT m.state, h.name AS host, lh.name AS lasthost, v.pool, p.name AS record FROM vm_instances m LEFT JOIN hosts h ON h.id=m.host_id LEFT JOIN hosts lh ON lh.id=m.last_host_id JOIN volumes v ON v.vm_id=m.id AND v.volume_type='ROOT' AND v.removed IS NULL LEFT JOIN storage_pools p ON p.id=v.pool_id WHERE m.instance_name=?`).get(name);
  const params = (name: string) => migratingImport(z, name, offering);
  const job = (command: string, params: Record<string, string>) => jobOutcome(z, command, params);

  it('running: imported, then migrated live to host2 with its disk copied into the tagged pool there', async () => {
    const source = path.join(hosts!.storagePath, disk(DOMAINS.running));
    const copy = path.join(POOL.dir, disk(DOMAINS.running));
    const imported = await job('importUnmanagedInstance', params(DOMAINS.running));
    expect(imported.status, imported.text).toBe(200);
    expect(imported.result['virtualmachine']).toMatchObject({ state: 'Running', hostname: H2 });
    expect(row(DOMAINS.running)).toEqual({ state: 'Running', host: H2, lasthost: H2, pool: POOL.name, record: POOL.name });
    expect(onHost('host2', 'virsh', 'domstate', DOMAINS.running).trim()).toBe('running');
    expect(onHost('host1', 'virsh', 'list', '--all', '--name')).not.toContain(DOMAINS.running);
    expect(onHost('host2', 'virsh', 'domblklist', DOMAINS.running)).toContain(copy);
    expect(onHost('host2', 'virsh', 'dumpxml', '--inactive', DOMAINS.running)).toContain(`file='${copy}'`);
    expect(existsSync(source)).toBe(false);
    expect(onHost('host2', 'qemu-img', 'info', '-U', copy)).not.toContain('backing file');
  }, 240_000);

  it('stopped: imported, then its definition and disk go to host2, the disk streamed into the tagged pool', async () => {
    const source = path.join(hosts!.storagePath, disk(DOMAINS.stopped));
    const copy = path.join(POOL.dir, disk(DOMAINS.stopped));
    const imported = await job('importUnmanagedInstance', params(DOMAINS.stopped));
    expect(imported.status, imported.text).toBe(200);
    expect(row(DOMAINS.stopped)).toEqual({ state: 'Stopped', host: null, lasthost: H2, pool: POOL.name, record: POOL.name });
    expect(onHost('host1', 'virsh', 'list', '--all', '--name')).not.toContain(DOMAINS.stopped);
    expect(onHost('host2', 'virsh', 'dumpxml', '--inactive', DOMAINS.stopped)).toContain(`file='${copy}'`);
    expect(existsSync(source)).toBe(false);
    const started = await job('startVirtualMachine', { id: (imported.result['virtualmachine'] as { id: string }).id });
    expect(started.status, started.text).toBe(200);
    expect(onHost('host2', 'virsh', 'domblklist', DOMAINS.stopped)).toContain(copy);
  }, 240_000);
});
