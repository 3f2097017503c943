/**
 * drivers/kvm/volume-move.ts against a small in-memory libvirt (volumes by pool and path, one
 * shut-off domain): the failures the real-host test cannot provoke leave the domain and the pools
 * as they were. A definition change libvirt refuses deletes the copy; a copy that fails after
 * writing part of a file removes it; a domain with snapshots is refused before any copy; the
 * happy path points the domain at the copy and deletes the source.
 */
import { describe, expect, it } from 'vitest';
import { moveStoppedDisks } from '../../drivers/kvm/volume-move.js';
import { PoolQueue, type HostStorage } from '../../drivers/kvm/storage.js';
import { virshError, type Virsh } from '../../drivers/kvm/virsh.js';
import { DriverError } from '../../drivers/types.js';

interface Vol { pool: string; name: string }

function fakeLibvirt(options: { failUpdate?: boolean; failCopyAfterWrite?: boolean; snapshots?: string } = {}) {
  const pools: Record<string, string> = { kiln: '/s', fast: '/f' };
  const volumes = new Map<string, Vol>([['/s/d1.qcow2', { pool: 'kiln', name: 'd1.qcow2' }]]);
  let diskPath = '/s/d1.qcow2';
  const calls: string[] = [];
  const volXml = (path: string, v: Vol) => `<volume><name>${v.name}</name><capacity unit='bytes'>67108864</capacity><target><path>${path}</path><format type='qcow2'/></target></volume>`;
  const domXml = () => `<domain type='qemu'><name>vm1</name><devices><disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='${diskPath}'/><backingStore/><target dev='vda' bus='virtio'/></disk></devices></domain>`;
  const ok = (stdout = '') => ({ code: 0, stdout, stderr: '' });
  const fail = (stderr: string) => ({ code: 1, stdout: '', stderr: `error: ${stderr}` });
  const opt = (args: readonly string[], name: string) => args[args.indexOf(name) + 1]!;
  const tryRun = async (args: readonly string[], o?: { stdin?: string }) => {
    calls.push(args[0]!);
    switch (args[0]) {
      case 'domstate': return ok('shut off\n');
      case 'snapshot-list': return ok(options.snapshots ?? '');
      case 'checkpoint-list': return ok('');
      case 'dumpxml': return ok(domXml());
      case 'pool-refresh': return ok();
      case 'vol-dumpxml': {
        const vol = opt(args, '--vol');
        const path = args.includes('--pool') ? `${pools[opt(args, '--pool')]}/${vol}` : vol;
        const v = volumes.get(path);
        return v ? ok(volXml(path, v)) : fail(`Storage volume not found: no storage vol with matching path '${path}'`);
      }
      case 'vol-pool': return ok(`${volumes.get(opt(args, '--vol'))!.pool}\n`);
      case 'vol-create-from': {
        const pool = opt(args, '--pool');
        const name = /<name>([^<]+)<\/name>/.exec(o?.stdin ?? '')![1]!;
        volumes.set(`${pools[pool]}/${name}`, { pool, name });
        return options.failCopyAfterWrite ? fail('internal error: qemu-img: No space left on device') : ok();
      }
      case 'update-device': {
        if (options.failUpdate) return fail('operation failed: target vda changed');
        diskPath = /file="([^"]+)"/.exec(o?.stdin ?? '')![1]!;
        return ok();
      }
      case 'vol-delete': return volumes.delete(opt(args, '--vol')) ? ok() : fail('Storage volume not found');
      default: throw new Error(`unexpected virsh ${args.join(' ')}`);
    }
  };
  const virsh = {
    tryRun,
    run: async (args: readonly string[], o?: { stdin?: string }) => {
      const r = await tryRun(args, o);
      if (r.code !== 0) throw virshError(r.stderr, args[0]!);
      return r.stdout;
    },
  } as unknown as Virsh;
  const storage: HostStorage = { virsh, queue: new PoolQueue() };
  return { storage, volumes, calls, disk: () => diskPath };
}

describe('KVM storage motion of a stopped domain (volume-move.ts)', () => {
  it('moves the disk: the domain points at the copy in the target pool, the source is deleted', async () => {
    const lv = fakeLibvirt();
    expect(await moveStoppedDisks(lv.storage, 'vm1', { 'd1.qcow2': 'fast' })).toEqual([{ name: 'd1.qcow2', ref: '/f/d1.qcow2', pool: 'fast' }]);
    expect(lv.disk()).toBe('/f/d1.qcow2');
    expect([...lv.volumes.keys()]).toEqual(['/f/d1.qcow2']);
  });

  it('a definition change libvirt refuses deletes the copy and leaves the domain and its disk as they were', async () => {
    const lv = fakeLibvirt({ failUpdate: true });
    await expect(moveStoppedDisks(lv.storage, 'vm1', { 'd1.qcow2': 'fast' })).rejects.toThrow(/target vda changed/);
    expect(lv.disk()).toBe('/s/d1.qcow2');
    expect([...lv.volumes.keys()]).toEqual(['/s/d1.qcow2']);
  });

  it('a copy that fails after writing part of the file removes that file', async () => {
    const lv = fakeLibvirt({ failCopyAfterWrite: true });
    const error = await moveStoppedDisks(lv.storage, 'vm1', { 'd1.qcow2': 'fast' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DriverError);
    expect((error as Error).message).toMatch(/^cannot copy disk d1\.qcow2 to pool fast: .*No space left on device/);
    expect(lv.disk()).toBe('/s/d1.qcow2');
    expect([...lv.volumes.keys()]).toEqual(['/s/d1.qcow2']);
  });

  it('a domain with snapshots is refused before anything is copied', async () => {
    const lv = fakeLibvirt({ snapshots: 's1\ns2\n' });
    await expect(moveStoppedDisks(lv.storage, 'vm1', { 'd1.qcow2': 'fast' })).rejects.toThrow('domain vm1 has VM snapshots (s1, s2)');
    expect(lv.calls).not.toContain('vol-create-from');
    expect([...lv.volumes.keys()]).toEqual(['/s/d1.qcow2']);
  });
});
