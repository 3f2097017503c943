/**
 * What the kvm-engine*.real tests (the engine on the real KVM hosts, one file per theme so the
 * real shards can balance them) do with a zone's VMs: deploy one through the API, read its row
 * (internal name, state, host), and open its serial console.
 */
import { afterAll, beforeAll } from 'vitest';
import type { KvmDriver } from '../../drivers/kvm/index.js';
import { ConsoleTap, type HostsJson } from '../kvm/real-hosts.js';
import { cleanUp, kvmZone, type KvmZone } from './kvm-zone.js';

/** deployVirtualMachine of the zone's template, tiny offering and L2 network; PARAMS override. Throws unless the job succeeded. */
export async function deployVm(z: KvmZone, params: Record<string, string> = {}): Promise<Record<string, string>> {
  const job = await z.t.run('deployVirtualMachine', { zoneid: z.zoneid, templateid: z.templateid, serviceofferingid: z.tiny, networkids: z.network, ...params });
  if (job['jobstatus'] !== 1) throw new Error(JSON.stringify(job['jobresult']));
  return (job['jobresult'] as { virtualmachine: Record<string, string> }).virtualmachine;
}

/** The VM's internal name, state and host (its address, as Kiln names it; null when it has none). */
export function vmRow(z: KvmZone, id: string): { internal_name: string; state: string; host: string | null } {
  return z.t.engine.db.prepare('SELECT v.internal_name, v.state, h.name AS host FROM vm_instances v LEFT JOIN hosts h ON h.id=v.host_id WHERE v.uuid=?').get(id) as { internal_name: string; state: string; host: string | null };
}

export async function consoleOf(z: KvmZone, id: string): Promise<ConsoleTap> {
  return new ConsoleTap(await z.t.engine.vms.openConsole(z.t.admin, id));
}

/**
 * In a describe: the zone the file's tests share, made in beforeAll (the zone returned is filled in
 * then), and after them its VMs destroyed and the engine closed. The harness's pool is one directory
 * on every host, so it is declared shared: HA and headroom may restart a VM on the other host.
 */
export function engineZoneHooks(hosts: HostsJson, driver?: () => KvmDriver): KvmZone {
  const z = {} as KvmZone;
  beforeAll(async () => {
    Object.assign(z, await kvmZone(hosts, undefined, driver?.(), { sharedPool: true }));
  });
  afterAll(async () => {
    if (!z.t) return;
    await cleanUp(z.t);
    await z.t.close();
  }, 300_000);
  return z;
}

/** deployVm, vmRow and consoleOf for the zone Z. */
export function engineVms(z: KvmZone) {
  return {
    deploy: (params: Record<string, string> = {}) => deployVm(z, params),
    row: (id: string) => vmRow(z, id),
    consoleOf: (id: string) => consoleOf(z, id),
  };
}
