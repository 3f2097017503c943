/**
 * A KVM zone in a running `kiln serve` (crash tests kill that process), built through its API the
 * way kvmZone builds one in a test engine: zone, pod, cluster, harness hosts added by SSH key (host1
 * unless named), the test guest as a template, a small offering without HA, an L2 network, a
 * per-run instance.name, and the backup framework on with the nas provider's host store imported.
 * The pool is not called shared: a disk on it binds its VM to its host.
 */
import { readFileSync } from 'node:fs';
import type { HostsJson } from '../kvm/real-hosts.js';
import { ok, okJob, waitJob } from './crash-rounds.js';
import type { KilnProcess } from './server.js';

export interface ServedKvmZone {
  zone: string;
  /** The first host added. */
  host: string;
  /** Every host added, by its hosts.json name. */
  hostIds: Record<string, string>;
  template: string;
  offering: string;
  network: string;
  backupOffering: string;
}

export async function servedKvmZone(kiln: KilnProcess, hosts: HostsJson, options: { name: string; instanceName: string; hostNames?: string[] }): Promise<ServedKvmZone> {
  const zone = ((await ok(kiln, 'createZone', { name: options.name }))['zone'] as { id: string }).id;
  const pod = ((await ok(kiln, 'createPod', { name: `${options.name} pod`, zoneid: zone }))['pod'] as { id: string }).id;
  const cluster = ((await ok(kiln, 'addCluster', { clustername: `${options.name} cluster`, zoneid: zone, podid: pod, hypervisor: 'KVM' }))['cluster'] as { id: string }).id;
  const hostIds: Record<string, string> = {};
  for (const name of options.hostNames ?? ['host1']) {
    const h = hosts.hosts.find((x) => x.name === name)!;
    hostIds[name] = ((await ok(kiln, 'addHost', { zoneid: zone, podid: pod, clusterid: cluster, hypervisor: 'KVM', url: `ssh://${h.address}:${h.port}`, username: h.username, privatekey: readFileSync(h.privateKeyPath, 'utf8'), 'details[0].pool': hosts.poolName }))['host'] as { id: string }).id;
  }
  const host = Object.values(hostIds)[0]!;
  const os = ((await ok(kiln, 'listOsTypes', { description: 'Other Linux (64-bit)' }))['ostype'] as { id: string }[])[0]!.id;
  await ok(kiln, 'updateConfiguration', { name: 'kiln.template.local.dir', value: hosts.storagePath });
  const template = ((await ok(kiln, 'registerTemplate', {
    name: `${options.name} guest`, format: 'QCOW2', hypervisor: 'KVM', ostypeid: os, url: hosts.templateImage, zoneid: zone, ispublic: 'true', size: String(64 * 1024 * 1024),
    'details[0].kernel': hosts.kernel, 'details[0].initrd': hosts.initrd, 'details[0].kernelArgs': 'quiet panic=-1',
  }))['template'] as { id: string }[])[0]!.id;
  const offering = ((await ok(kiln, 'createServiceOffering', { name: `${options.name} tiny`, cpunumber: '1', cpuspeed: '100', memory: '128' }))['serviceoffering'] as { id: string }).id;
  const network = ((await ok(kiln, 'createNetwork', { name: `${options.name} l2`, zoneid: zone, vlan: '202' }))['network'] as { id: string }).id;
  for (const [name, value] of [['instance.name', options.instanceName], ['vm.stop.timeout', '3']]) await ok(kiln, 'updateConfiguration', { name: name!, value: value! });
  for (const [name, value] of [['backup.framework.enabled', 'true'], ['backup.framework.provider.plugin', 'nas']]) await ok(kiln, 'updateConfiguration', { name: name!, value: value!, zoneid: zone });
  const imported = await waitJob(kiln, String((await ok(kiln, 'importBackupOffering', { zoneid: zone, externalid: 'host-store', name: 'store', description: 'nas', allowuserdrivenbackups: 'true' }))['jobid']));
  const backupOffering = (imported['jobresult'] as { backupoffering: { id: string } }).backupoffering.id;
  return { zone, host, hostIds, template, offering, network, backupOffering };
}

/**
 * Deploys VM NAME in the zone, on z.host unless PARAMS names another (or adds others, such as
 * rootdisksize); returns its job's queryAsyncJobResult answer and its id.
 */
export async function deployServed(kiln: KilnProcess, z: ServedKvmZone, name: string, params: Record<string, string> = {}): Promise<{ job: Record<string, unknown>; id: string }> {
  const job = await okJob(kiln, 'deployVirtualMachine', { zoneid: z.zone, templateid: z.template, serviceofferingid: z.offering, networkids: z.network, hostid: z.host, name, ...params });
  return { job, id: (job['jobresult'] as { virtualmachine: { id: string } }).virtualmachine.id };
}
