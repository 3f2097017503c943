/**
 * A libvirt dir pool a real-host test defines on one host of the harness (a second pool beside the
 * harness's kiln pool, for storage-tag cases), and its removal, which tolerates a pool already gone;
 * and the storage-tag tests' zone around such a pool on host1.
 */
import { mkdirSync, rmSync } from 'node:fs';
import { afterAll, beforeAll } from 'vitest';
import type { HostsJson } from '../kvm/real-hosts.js';
import { cleanUp, kvmZone, onHost, type KvmZone } from './kvm-zone.js';

export function defineDirPool(host: string, name: string, dir: string): void {
  mkdirSync(dir, { recursive: true });
  onHost(host, 'virsh', 'pool-define-as', name, 'dir', '--target', dir);
  onHost(host, 'virsh', 'pool-start', name);
}

export function removeDirPool(host: string, name: string, dir: string): void {
  for (const step of ['pool-destroy', 'pool-undefine']) {
    try {
      onHost(host, 'virsh', step, name);
    } catch {
      // not running / not defined
    }
  }
  rmSync(dir, { recursive: true, force: true });
}

/**
 * In a describe: the dir pool NAME at DIR on host1, defined before the zone of host1 and host2 is
 * made (so Kiln lists it from its first read of host1). After the tests: Kiln's VMs and volumes
 * (cleanUp) and the engine, then LEFTOVERS (what the test made on the hosts around Kiln), then the
 * pool. The zone returned is filled in by beforeAll.
 */
export function kvmZoneWithDirPool(hosts: HostsJson, pool: { name: string; dir: string }, leftovers: () => void = () => undefined): KvmZone {
  const z = {} as KvmZone;
  beforeAll(async () => {
    defineDirPool('host1', pool.name, pool.dir);
    Object.assign(z, await kvmZone(hosts, ['host1', 'host2']));
  }, 120_000);
  afterAll(async () => {
    if (z.t) {
      await cleanUp(z.t);
      await z.t.close();
    }
    leftovers();
    removeDirPool('host1', pool.name, pool.dir);
  }, 180_000);
  return z;
}
