/**
 * drivers/kvm/volume-move.ts against a small in-memory libvirt (volumes by pool and path, one
 * shut-off domain): the failures the real-host test cannot provoke leave the domain and the pools
 * as they were. A definition change libvirt refuses deletes the copy; a copy that fails after
 * writing part of a file removes it; a domain with snapshots is refused before any copy; the
 * happy path points the domain at the copy and deletes the source.
 */
import { describe, expect, it } from 'vitest';
import { moveStoppedDisks } from '../../drivers/kvm/volume-move.js';
import { fail, fakePools, hostStorage, ok, type Vol } from './fake-pools.js';
import { DriverError } from '../../drivers/types.js';

function fakeLibvirt(options: { failUpdate?: boolean; failCopyAfterWrite?: boolean; snapshots?: string } = {}) {
  const volumes = new Map<string, Vol>([['/s/d1.qcow2', { pool: 'kiln', name: 'd1.qcow2' }]]);
  const pools = fakePools({ kiln: '/s', fast: '/f' }, volumes);
  let diskPath = '/s/d1.qcow2';
  const calls: string[] = [];
  const domXml = () => `<domain type='qemu'><name>vm1</name><devices><disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='${diskPath}'/><backingStore/><target dev='vda' bus='virtio'/></disk></devices></domain>`;
  const tryRun = async (args: readonly string[], o?: { stdin?: string }) => {
    calls.push(args[0]!);
    switch (args[0]) {
      case 'domstate': return ok('shut off\n');
      case 'snapshot-list': return ok(options.snapshots ?? '');
      case 'checkpoint-list': return ok('');
      case 'dumpxml': return ok(domXml());
      case 'vol-create-from': {
        const made = pools.answer(args, o?.stdin)!;
        return options.failCopyAfterWrite ? fail('internal error: qemu-img: No space left on device') : made;
      }
      case 'update-device': {
        if (options.failUpdate) return fail('operation failed: target vda changed');
        diskPath = /file="([^"]+)"/.exec(o?.stdin ?? '')![1]!;
        return ok();
      }
      default: {
        const answer = pools.answer(args, o?.stdin);
        if (!answer) throw new Error(`unexpected virsh ${args.join(' ')}`);
        return answer;
      }
    }
  };
  return { storage: hostStorage(tryRun), volumes, calls, disk: () => diskPath };
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
