/**
 * The start of the KVM tests that import hand-made domains with migrateallowed=true and follow
 * their disks to a pool a storage tag names (kvm-volume-move.real: another pool of host1;
 * kvm-import-move-host.real: a pool of host2 only): the extra dir pools, host1's domains with a
 * linked clone of the harness's template in its `kiln` pool each, a zone of host1 and host2, and
 * after the tests Kiln's VMs, the domains, their disks and the pools removed again.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { WORK, type HostsJson } from '../kvm/real-hosts.js';
import { handMadeDomainXml } from './hand-made-domain.js';
import { defineDirPool, removeDirPool } from './kvm-dir-pool.js';
import { cleanUp, kvmZone, onHost, onHostAll, type KvmZone } from './kvm-zone.js';

/** The pool volume a hand-made domain's root disk is. */
export const rootDisk = (name: string) => `${name}-root.qcow2`;

export interface HandMadeImportSetup {
  /** Dir pools to define before the zone is made (so Kiln lists them from its first read). */
  pools: { host: string; name: string; dir: string }[];
  /** The domains defined on host1, shut off; the i-th has the NIC MAC mac(i). */
  domains: string[];
  mac: (i: number) => string;
  /** Runs once the domains exist, before the zone is made (e.g. starting one of them). */
  beforeZone?: () => void;
  /** Runs once the zone is made (storage tags, offerings). */
  withZone?: (z: KvmZone) => Promise<void>;
  /** What else the test left on the hosts, removed after the domains (before the pools). */
  leftovers?: () => void;
}

/** In a describe: beforeAll and afterAll as the header says. The zone returned is filled in by beforeAll. */
export function handMadeImportZone(hosts: HostsJson, setup: HandMadeImportSetup): KvmZone {
  const z = {} as KvmZone;
  const xmlDir = path.join(WORK, `hand-made-${process.pid}`);
  beforeAll(async () => {
    for (const pool of setup.pools) defineDirPool(pool.host, pool.name, pool.dir);
    mkdirSync(xmlDir, { recursive: true });
    try {
      onHostAll('host1', setup.domains.flatMap((name, i) => {
        const xml = path.join(xmlDir, `${name}.xml`);
        writeFileSync(xml, handMadeDomainXml(hosts, name, [`${hosts.storagePath}/${rootDisk(name)}`], [setup.mac(i)]));
        return [
          ['virsh', 'vol-create-as', hosts.poolName, rootDisk(name), '64M', '--format', 'qcow2', '--backing-vol', 'kiln-template.qcow2', '--backing-vol-format', 'qcow2'],
          ['virsh', 'define', xml],
        ];
      }));
    } finally {
      rmSync(xmlDir, { recursive: true, force: true });
    }
    setup.beforeZone?.();
    Object.assign(z, await kvmZone(hosts, ['host1', 'host2']));
    await setup.withZone?.(z);
  }, 180_000);
  afterAll(async () => {
    if (z.t) {
      await cleanUp(z.t);
      await z.t.close();
    }
    removeHandMadeDomains(hosts, ['host1', 'host2'], setup.domains);
    setup.leftovers?.();
    for (const pool of setup.pools) removeDirPool(pool.host, pool.name, pool.dir);
  }, 180_000);
  return z;
}

/**
 * Defines domain NAME on HOST as an admin would: its root disk a linked clone of the harness's
 * template in the harness pool (rootDisk), one NIC with MAC (virtio), the XML passed through EDIT
 * first (e.g. another NIC source); the XML it defined. removeHandMadeDomains removes it.
 */
export function defineHandMadeDomain(hosts: HostsJson, host: string, name: string, mac: string, edit: (xml: string) => string = (xml) => xml): string {
  onHost(host, 'virsh', 'vol-create-as', hosts.poolName, rootDisk(name), '64M', '--format', 'qcow2', '--backing-vol', 'kiln-template.qcow2', '--backing-vol-format', 'qcow2');
  const xml = edit(handMadeDomainXml(hosts, name, [`${hosts.storagePath}/${rootDisk(name)}`], [mac], { nicModel: 'virtio' }));
  const file = path.join(WORK, `hand-made-${process.pid}-${name}.xml`);
  writeFileSync(file, xml);
  try {
    onHost(host, 'virsh', 'define', file);
  } finally {
    rmSync(file, { force: true });
  }
  return xml;
}

/** Destroys and undefines DOMAINS on each of HOSTNAMES and deletes their root disks from the harness pool, whatever is left of them. */
export function removeHandMadeDomains(hosts: HostsJson, hostNames: string[], domains: string[]): void {
  const steps = domains.map((n) => `virsh destroy ${n} >/dev/null 2>&1; virsh undefine ${n} >/dev/null 2>&1; virsh vol-delete --pool ${hosts.poolName} ${rootDisk(n)} >/dev/null 2>&1;`);
  for (const host of hostNames) onHost(host, 'sh', '-c', `${steps.join(' ')} true`);
}

/** A job's outcome: 200 and its result, or the error code and text it failed with. */
export async function jobOutcome(z: KvmZone, command: string, params: Record<string, string>): Promise<{ status: number; text: string; result: Record<string, unknown> }> {
  const done = await z.t.run(command, params);
  const result = done['jobresult'] as Record<string, unknown>;
  return done['jobstatus'] === 1 ? { status: 200, text: '', result } : { status: Number(result['errorcode']), text: String(result['errortext']), result };
}

/** importUnmanagedInstance of domain NAME into the zone's cluster and L2 network with OFFERING, moves allowed. */
export const migratingImport = (z: KvmZone, name: string, offering: string) => ({
  clusterid: z.clusterid, name, serviceofferingid: offering, migrateallowed: 'true', 'nicnetworklist[0].nic': 'nic0', 'nicnetworklist[0].network': z.network,
});
