/**
 * drivers/kvm/live-volume-move.ts against a small in-memory libvirt (volumes by pool and path, one
 * running domain with two disks, block jobs): the failures the real-host test cannot provoke. A
 * block copy that fails for the second disk aborts both jobs and deletes both copies, the guest on
 * its old disks; a pivot that fails after the first disk switched over keeps that disk moved
 * (finished: definition, old volume gone), puts the other back on its old volume alone, and the
 * error carries the moved disk for the engine to record; a pivot virsh reports failed that did
 * happen counts as moved (the live definition decides); a libvirt that leaves the persistent
 * definition alone after the pivots has it pointed at the copies.
 */
import { DriverError } from '../../drivers/types.js';
import { describe, expect, it } from 'vitest';
import { moveRunningDisks } from '../../drivers/kvm/live-volume-move.js';
import { fail, fakePools, hostStorage, ok, opt, type Vol } from './fake-pools.js';

function fakeLibvirt(options: { failCopy?: string; failPivot?: string; pivotsAnyway?: boolean; rewritesDefinition?: boolean } = {}) {
  const volumes = new Map<string, Vol>([['/s/d1.qcow2', { pool: 'kiln', name: 'd1.qcow2' }], ['/s/d2.qcow2', { pool: 'kiln', name: 'd2.qcow2' }]]);
  const pools = fakePools({ kiln: '/s', fast: '/f' }, volumes);
  const live: Record<string, string> = { vda: '/s/d1.qcow2', vdb: '/s/d2.qcow2' };
  const persistent: Record<string, string> = { ...live };
  const jobs = new Map<string, string>();
  const calls: string[] = [];
  const domXml = (disks: Record<string, string>) => `<domain type='qemu'><name>vm1</name><devices>${Object.entries(disks).map(([t, p]) => `<disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='${p}'/><target dev='${t}' bus='virtio'/></disk>`).join('')}</devices></domain>`;
  const tryRun = async (args: readonly string[], o?: { stdin?: string }) => {
    calls.push(args.filter((a) => !a.startsWith('/')).join(' '));
    switch (args[0]) {
      case 'snapshot-list': case 'checkpoint-list': return ok('');
      case 'dumpxml': return ok(domXml(args.includes('--inactive') ? persistent : live));
      case 'blockcopy': {
        const target = opt(args, '--path');
        if (options.failCopy === target) return fail('Copy failed');
        jobs.set(target, opt(args, '--dest'));
        return ok('Now in mirroring phase\n');
      }
      case 'blockjob': {
        const target = opt(args, '--path');
        if (!jobs.has(target)) return fail(`No active block job '${target}'`);
        if (args.includes('--pivot')) {
          if (options.failPivot === target) {
            // pivotsAnyway: the switch happened, but virsh's answer is a failure (a timeout, a lost reply).
            if (!options.pivotsAnyway) return fail('internal error: unable to execute QEMU command \'job-complete\'');
            live[target] = jobs.get(target)!;
            jobs.delete(target);
            return fail('Timed out during operation: cannot acquire state change lock');
          }
          live[target] = jobs.get(target)!;
          if (options.rewritesDefinition) persistent[target] = jobs.get(target)!;
        }
        jobs.delete(target);
        return ok();
      }
      case 'update-device': {
        const stdin = o?.stdin ?? '';
        persistent[/dev="([^"]+)"/.exec(stdin)![1]!] = /file="([^"]+)"/.exec(stdin)![1]!;
        return ok();
      }
      default: {
        const answer = pools.answer(args, o?.stdin);
        if (!answer) throw new Error(`unexpected virsh ${args.join(' ')}`);
        return answer;
      }
    }
  };
  return { storage: hostStorage(tryRun), volumes, live, persistent, jobs, calls };
}

const BOTH = { 'd1.qcow2': 'fast', 'd2.qcow2': 'fast' };

describe('KVM live storage motion on one host (live-volume-move.ts)', () => {
  it('copies both disks, pivots only once both are in step, points the definition at the copies (libvirt did not), deletes the sources', async () => {
    const lv = fakeLibvirt();
    expect(await moveRunningDisks(lv.storage, 'vm1', BOTH)).toEqual([{ name: 'd1.qcow2', ref: '/f/d1.qcow2', pool: 'fast' }, { name: 'd2.qcow2', ref: '/f/d2.qcow2', pool: 'fast' }]);
    const order = lv.calls.filter((c) => /^blockcopy|^blockjob/.test(c)).map((c) => c.replace(/ --domain vm1 --path (vd.).*?(--pivot)?$/, ' $1 $2').trim());
    expect(order).toEqual(['blockcopy vda', 'blockcopy vdb', 'blockjob vda --pivot', 'blockjob vdb --pivot']);
    expect(lv.live).toEqual({ vda: '/f/d1.qcow2', vdb: '/f/d2.qcow2' });
    expect(lv.persistent).toEqual({ vda: '/f/d1.qcow2', vdb: '/f/d2.qcow2' });
    expect([...lv.volumes.keys()].sort()).toEqual(['/f/d1.qcow2', '/f/d2.qcow2']);
  });

  it('a definition libvirt rewrote itself is left alone', async () => {
    const lv = fakeLibvirt({ rewritesDefinition: true });
    await moveRunningDisks(lv.storage, 'vm1', BOTH);
    expect(lv.calls.some((c) => c.startsWith('update-device'))).toBe(false);
    expect(lv.persistent).toEqual({ vda: '/f/d1.qcow2', vdb: '/f/d2.qcow2' });
  });

  it('a copy that fails for the second disk aborts the first one\'s mirror and deletes both copies: the guest stays on its disks', async () => {
    const lv = fakeLibvirt({ failCopy: 'vdb' });
    await expect(moveRunningDisks(lv.storage, 'vm1', BOTH)).rejects.toThrow('cannot copy the disks of running domain vm1: error: Copy failed; it keeps running on its old disks');
    expect(lv.jobs.size).toBe(0);
    expect(lv.calls).toContain('blockjob --domain vm1 --path vda --abort');
    expect(lv.live).toEqual({ vda: '/s/d1.qcow2', vdb: '/s/d2.qcow2' });
    expect(lv.persistent).toEqual({ vda: '/s/d1.qcow2', vdb: '/s/d2.qcow2' });
    expect([...lv.volumes.keys()].sort()).toEqual(['/s/d1.qcow2', '/s/d2.qcow2']);
  });

  it('a pivot that fails after the first disk switched over keeps that disk moved and finished, puts the other back, and the error carries the moved disk', async () => {
    const lv = fakeLibvirt({ failPivot: 'vdb' });
    const error = await moveRunningDisks(lv.storage, 'vm1', BOTH).then(() => undefined, (e: unknown) => e);
    expect(error).toBeInstanceOf(DriverError);
    expect((error as DriverError).message).toBe("the live copy of vm1's disks failed while switching over: error: internal error: unable to execute QEMU command 'job-complete'; disk d1.qcow2 switched over to pool fast and stays moved; disk d2.qcow2 did not move");
    expect((error as DriverError).details.moved).toEqual([{ name: 'd1.qcow2', pool: 'fast' }]);
    // The guest and its definition: vda on the copy, vdb on its old volume; no mirror left running.
    expect(lv.live).toEqual({ vda: '/f/d1.qcow2', vdb: '/s/d2.qcow2' });
    expect(lv.persistent).toEqual({ vda: '/f/d1.qcow2', vdb: '/s/d2.qcow2' });
    expect(lv.jobs.size).toBe(0);
    expect(lv.calls).toContain('blockjob --domain vm1 --path vdb --abort');
    // One volume per disk, each where the guest reads it: d1's old volume and d2's copy are gone.
    expect([...lv.volumes.keys()].sort()).toEqual(['/f/d1.qcow2', '/s/d2.qcow2']);
  });

  it('a pivot virsh reports failed that happened all the same counts as moved: the live definition decides', async () => {
    const lv = fakeLibvirt({ failPivot: 'vda', pivotsAnyway: true, rewritesDefinition: true });
    const error = (await moveRunningDisks(lv.storage, 'vm1', BOTH).then(() => undefined, (e: unknown) => e)) as DriverError;
    expect(error.details.moved).toEqual([{ name: 'd1.qcow2', pool: 'fast' }]);
    expect(error.message).toContain('disk d1.qcow2 switched over to pool fast and stays moved; disk d2.qcow2 did not move');
    expect(lv.live).toEqual({ vda: '/f/d1.qcow2', vdb: '/s/d2.qcow2' });
    expect([...lv.volumes.keys()].sort()).toEqual(['/f/d1.qcow2', '/s/d2.qcow2']);
    expect(lv.jobs.size).toBe(0);
  });
});
