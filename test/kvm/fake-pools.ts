/**
 * The pieces of an in-memory libvirt that the storage-motion unit tests share (volume-move.test,
 * live-volume-move.test): virsh's answers, volumes by pool directory and path with their lookups,
 * creation (by the XML's name), deletion and refreshes, and a HostStorage over a test's tryRun.
 */
import { PoolQueue, type HostStorage } from '../../drivers/kvm/storage.js';
import { virshError, type Virsh } from '../../drivers/kvm/virsh.js';

export interface Vol { pool: string; name: string }
export interface Answer { code: number; stdout: string; stderr: string }
export type TryRun = (args: readonly string[], options?: { stdin?: string }) => Promise<Answer>;

export const ok = (stdout = ''): Answer => ({ code: 0, stdout, stderr: '' });
export const fail = (stderr: string): Answer => ({ code: 1, stdout: '', stderr: `error: ${stderr}` });
/** The value after option NAME in a virsh argv. */
export const opt = (args: readonly string[], name: string): string => args[args.indexOf(name) + 1]!;

/** Pools by name -> directory, and their volumes by path. */
export function fakePools(dirs: Record<string, string>, volumes: Map<string, Vol>) {
  const volXml = (path: string, v: Vol) => `<volume><name>${v.name}</name><capacity unit='bytes'>67108864</capacity><target><path>${path}</path><format type='qcow2'/></target></volume>`;
  return {
    /** The answer to a pool or volume command, or undefined for any other. */
    answer(args: readonly string[], stdin?: string): Answer | undefined {
      switch (args[0]) {
        case 'pool-refresh': return ok();
        case 'vol-dumpxml': {
          const vol = opt(args, '--vol');
          const path = args.includes('--pool') ? `${dirs[opt(args, '--pool')]}/${vol}` : vol;
          const v = volumes.get(path);
          return v ? ok(volXml(path, v)) : fail(`Storage volume not found: no storage vol with matching path '${path}'`);
        }
        case 'vol-pool': return ok(`${volumes.get(opt(args, '--vol'))!.pool}\n`);
        case 'vol-create': case 'vol-create-from': {
          const pool = opt(args, '--pool');
          const name = /<name>([^<]+)<\/name>/.exec(stdin ?? '')![1]!;
          volumes.set(`${dirs[pool]}/${name}`, { pool, name });
          return ok();
        }
        case 'vol-delete': return volumes.delete(opt(args, '--vol')) ? ok() : fail('Storage volume not found');
        default: return undefined;
      }
    },
  };
}

/** A host's storage whose virsh answers with TRYRUN (run throws virsh's error, as the real one does). */
export function hostStorage(tryRun: TryRun): HostStorage {
  const virsh = {
    tryRun,
    run: async (args: readonly string[], o?: { stdin?: string }) => {
      const r = await tryRun(args, o);
      if (r.code !== 0) throw virshError(r.stderr, args[0]!);
      return r.stdout;
    },
  } as unknown as Virsh;
  return { virsh, queue: new PoolQueue() };
}
