/**
 * The KVM driver's per-host pool queue (issue 10, item 9): libvirt refuses `pool-refresh` while a
 * volume of the pool is being built ("pool 'kiln' has asynchronous jobs running"). Refreshes and
 * volume builds on one host must never overlap, and a refresh that meets someone else's build is
 * retried. The real-host test is test/integration/kvm-concurrent-deploy.real.test.ts.
 */
import { describe, expect, it, vi } from 'vitest';
import { createVolume, findVolume, PoolQueue, refreshPool, type HostStorage } from '../../drivers/kvm/storage.js';
import type { Virsh } from '../../drivers/kvm/virsh.js';
import type { ExecResult } from '../../drivers/kvm/ssh-connection.js';

/** What KvmSession.define does for each disk: look it up (a miss refreshes the pool), else create it. */
async function defineDisk(storage: HostStorage, name: string, delayMs = 0) {
  // Deploys arrive a little apart, so one's lookup meets another's build.
  await new Promise((r) => setTimeout(r, delayMs));
  return (await findVolume(storage, 'kiln', name)) ?? (await createVolume(storage, 'kiln', { name, sizeBytes: 1 << 20, backingImage: 'tpl.qcow2', device: 'disk' }));
}

/** A libvirt pool as virsh sees it: vol-create takes a while and counts as an asynchronous job. */
class FakePool {
  volumes = new Set<string>(['tpl.qcow2']);
  building = 0;
  refreshes = 0;
  refused = 0;
  /** Builds by someone else on the host (another client of libvirtd). */
  foreignBuilds = 0;
  /**
   * Hold each build open until a refresh has met one (or 2 s pass), so that whether calls overlap
   * does not depend on how late a loaded machine fires the timers that space them out.
   */
  holdBuildsForRefresh = false;

  virsh(): Virsh {
    const tryRun = async (args: readonly string[]): Promise<ExecResult> => {
      const [cmd] = args;
      if (cmd === 'pool-refresh') {
        if (this.building + this.foreignBuilds > 0) {
          this.refused++;
          if (this.foreignBuilds > 0) this.foreignBuilds--;
          return { code: 1, stdout: '', stderr: "error: Failed to refresh pool kiln\nerror: internal error: pool 'kiln' has asynchronous jobs running." } as ExecResult;
        }
        this.refreshes++;
        await new Promise((r) => setTimeout(r, 2));
        return { code: 0, stdout: '', stderr: '' } as ExecResult;
      }
      if (cmd === 'vol-dumpxml') {
        const name = args.at(-1)!;
        if (!this.volumes.has(name)) return { code: 1, stdout: '', stderr: `error: failed to get vol '${name}'` } as ExecResult;
        return { code: 0, stdout: `<volume><name>${name}</name><key>/p/${name}</key><capacity unit='bytes'>1048576</capacity><target><path>/p/${name}</path><format type='qcow2'/></target></volume>`, stderr: '' } as ExecResult;
      }
      if (cmd === 'vol-create') {
        this.building++;
        if (this.holdBuildsForRefresh) {
          for (let waited = 0; this.refused === 0 && waited < 2000; waited += 5) await new Promise((r) => setTimeout(r, 5));
        } else {
          await new Promise((r) => setTimeout(r, 5));
        }
        this.building--;
        return { code: 0, stdout: '', stderr: '' } as ExecResult;
      }
      throw new Error(`unexpected virsh ${args.join(' ')}`);
    };
    const run = async (args: readonly string[], options?: { stdin?: string }) => {
      const result = await tryRun(args);
      if (result.code !== 0) throw new Error(result.stderr);
      if (args[0] === 'vol-create') this.volumes.add(/<name>([^<]+)<\/name>/.exec(options?.stdin ?? '')![1]!);
      return result.stdout;
    };
    return { tryRun, run } as unknown as Virsh;
  }
}

describe('KVM pool queue', () => {
  it('20 concurrent linked clones on one host: every one is created, no refresh ever meets a build', async () => {
    const pool = new FakePool();
    const storage: HostStorage = { virsh: pool.virsh(), queue: new PoolQueue() };
    const made = await Promise.all(
      Array.from({ length: 20 }, (_, i) => defineDisk(storage, `d${i}.qcow2`, i)),
    );
    expect(made.map((v) => v.path)).toEqual(Array.from({ length: 20 }, (_, i) => `/p/d${i}.qcow2`));
    expect(pool.refused).toBe(0);
    expect(pool.refreshes).toBeGreaterThanOrEqual(20);
  });

  it('without the queue a lookup during another disk\'s build meets "asynchronous jobs running" (what the queue prevents)', async () => {
    const pool = new FakePool();
    pool.holdBuildsForRefresh = true;
    // One queue per call: nothing serialised, as before the fix. The second lookup starts once the
    // first disk's build is under way (held open until a refresh meets it), whatever the timers on
    // a loaded machine do: a burst spaced by timers alone could run every lookup before any build.
    const first = defineDisk({ virsh: pool.virsh(), queue: new PoolQueue() }, 'd0.qcow2');
    for (let waited = 0; pool.building === 0 && waited < 5000; waited += 5) await new Promise((r) => setTimeout(r, 5));
    expect(pool.building).toBe(1);
    const second = defineDisk({ virsh: pool.virsh(), queue: new PoolQueue() }, 'd1.qcow2');
    const results = await Promise.allSettled([first, second]);
    expect(pool.refused).toBeGreaterThan(0);
    expect(results.every((r) => r.status === 'fulfilled')).toBe(true);
  });

  it("retries a refresh that meets another client's build, and gives up with libvirt's message", async () => {
    const pool = new FakePool();
    const storage: HostStorage = { virsh: pool.virsh(), queue: new PoolQueue() };
    pool.foreignBuilds = 2;
    await refreshPool(storage, 'kiln');
    expect(pool.refused).toBe(2);
    expect(pool.refreshes).toBe(1);
    pool.foreignBuilds = 100;
    // Giving up takes the whole backoff (about 7 s); fake timers skip the waiting.
    vi.useFakeTimers();
    try {
      const giveUp = expect(refreshPool(storage, 'kiln')).rejects.toThrow(/pool 'kiln' has asynchronous jobs running/);
      await vi.runAllTimersAsync();
      await giveUp;
    } finally {
      vi.useRealTimers();
    }
    expect(pool.refused).toBe(2 + 8);
    expect(await findVolume({ virsh: pool.virsh(), queue: new PoolQueue() }, 'kiln', 'tpl.qcow2')).toMatchObject({ path: '/p/tpl.qcow2' });
  });
});
