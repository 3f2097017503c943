/**
 * Signed API calls to a running `kiln serve` (HMAC-SHA256 with the admin's keys, as `kiln api`
 * signs), for tests that drive the real process: a call, a call that must succeed (an async one
 * followed to its job's end), the id in an answer, a KVM zone built through the API with harness
 * hosts added over SSH, and the busybox test guest as a template with a tiny offering.
 */
import { readFileSync } from 'node:fs';
import { signRequest } from '../../main/engine/auth/signing.js';
import type { KilnProcess } from './server.js';
import type { HostsJson } from '../kvm/real-hosts.js';

export type Body = Record<string, unknown>;

export interface ServeApi {
  call(command: string, params?: Record<string, string>): Promise<{ status: number; body: Body }>;
  ok(command: string, params?: Record<string, string>, timeoutMs?: number): Promise<Body>;
}

export function serveApi(kiln: KilnProcess): ServeApi {
  const call = async (command: string, params: Record<string, string> = {}) => {
    const signed = signRequest({ command, response: 'json', apiKey: kiln.apiKey, ...params }, kiln.secretKey);
    const res = await fetch(kiln.apiUrl, { method: 'POST', body: new URLSearchParams(signed) });
    const json = (await res.json()) as Record<string, Body>;
    return { status: res.status, body: Object.values(json)[0] ?? {} };
  };
  const ok = async (command: string, params: Record<string, string> = {}, timeoutMs = 180_000): Promise<Body> => {
    const { status, body } = await call(command, params);
    if (status !== 200) throw new Error(`${command} answered ${status}: ${JSON.stringify(body)}`);
    if (typeof body['jobid'] !== 'string') return body;
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const job = (await call('queryAsyncJobResult', { jobid: body['jobid'] })).body;
      if (job['jobstatus'] === 1) return (job['jobresult'] as Body | undefined) ?? {};
      if (job['jobstatus'] === 2) throw new Error(`${command} failed: ${JSON.stringify(job['jobresult'])}`);
      if (Date.now() > deadline) throw new Error(`${command}: job still running after ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 250));
    }
  };
  return { call, ok };
}

/** The id of the (first) object under KEY in an answer. */
export function idOf(body: Body, key: string): string {
  const value = body[key];
  const item = (Array.isArray(value) ? value[0] : value) as { id?: string } | undefined;
  if (!item?.id) throw new Error(`no ${key} id in ${JSON.stringify(body)}`);
  return item.id;
}

/**
 * A KVM zone in the serve process: zone, pod, cluster, the harness hosts named HOSTNAMES (its first
 * host when not given) added over SSH with their key, an L2 network on VLAN, and the guest OS type
 * the test guest is registered with. `kilnNames` is the name Kiln gave each host, by harness name.
 * The root admin may then register the test guest by host path (kiln.template.local.dir is set).
 */
export async function serveKvmZone(
  api: ServeApi, hosts: HostsJson, name: string, vlan: string, hostNames: string[] = [hosts.hosts[0]!.name], options: { sharedPool?: boolean } = {},
): Promise<{ zone: string; network: string; os: string; kilnNames: Record<string, string> }> {
  const zone = idOf(await api.ok('createZone', { name: `${name} Zone` }), 'zone');
  const pod = idOf(await api.ok('createPod', { name: `${name} Pod`, zoneid: zone }), 'pod');
  const cluster = idOf(await api.ok('addCluster', { clustername: `${name} Cluster`, zoneid: zone, podid: pod, hypervisor: 'KVM' }), 'cluster');
  const kilnNames: Record<string, string> = {};
  for (const hostName of hostNames) {
    const host = hosts.hosts.find((h) => h.name === hostName);
    if (!host) throw new Error(`no harness host ${hostName} in the hosts file`);
    const added = await api.ok('addHost', {
      zoneid: zone, podid: pod, clusterid: cluster, hypervisor: 'KVM', url: `ssh://${host.address}:${host.port}`, username: host.username,
      privatekey: readFileSync(host.privateKeyPath, 'utf8'), 'details[0].pool': hosts.poolName,
      // As kvmZone's sharedPool: the harness's pool is one directory on every host.
      ...(options.sharedPool ? { 'details[1].sharedPools': hosts.poolName } : {}),
    });
    kilnNames[hostName] = ((Array.isArray(added['host']) ? added['host'][0] : added['host']) as { name: string }).name;
  }
  const network = idOf(await api.ok('createNetwork', { name: `${name.toLowerCase().replace(/\s+/g, '-')}-l2`, zoneid: zone, vlan }), 'network');
  const os = idOf(await api.ok('listOsTypes', { description: 'Other Linux (64-bit)' }), 'ostype');
  await api.ok('updateConfiguration', { name: 'kiln.template.local.dir', value: hosts.storagePath });
  return { zone, network, os, kilnNames };
}

export interface TestGuest {
  /** The template's name. */
  template: string;
  /** The guest kernel's command line. */
  kernelArgs: string;
  /** More registerTemplate parameters (e.g. isdynamicallyscalable). */
  templateParams?: Record<string, string>;
  /** The name of its one-vCPU, 128 MB service offering. */
  offering: string;
  /** The start of this run's instance.name. */
  instancePrefix: string;
}

/**
 * The busybox test guest in a zone of serveKvmZone: registered by host path as GUEST.template
 * with its kernel and initrd, a one-vCPU 128 MB offering, and a per-run instance.name. Internal
 * names are i-<user>-<vm>-<instance.name>; a value per run keeps this run's domains apart from
 * other runs' (each with a fresh database) on the shared hosts.
 */
export async function serveTestGuest(api: ServeApi, hosts: HostsJson, at: { zone: string; os: string }, guest: TestGuest): Promise<{ template: string; offering: string }> {
  const template = idOf(await api.ok('registerTemplate', {
    name: guest.template, format: 'QCOW2', hypervisor: 'KVM', ostypeid: at.os, url: hosts.templateImage, zoneid: at.zone,
    ispublic: 'true', ...guest.templateParams, size: String(64 * 1024 * 1024),
    'details[0].kernel': hosts.kernel, 'details[0].initrd': hosts.initrd, 'details[0].kernelArgs': guest.kernelArgs,
  }), 'template');
  const offering = idOf(await api.ok('createServiceOffering', { name: guest.offering, cpunumber: '1', cpuspeed: '100', memory: '128' }), 'serviceoffering');
  await api.ok('updateConfiguration', { name: 'instance.name', value: `${guest.instancePrefix}${process.pid.toString(36)}${Date.now().toString(36).slice(-4)}` });
  return { template, offering };
}
