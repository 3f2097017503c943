/**
 * Signed API calls to a running `kiln serve` (HMAC-SHA256 with the admin's keys, as `kiln api`
 * signs), for tests that drive the real process: a call, a call that must succeed (an async one
 * followed to its job's end), the id in an answer, and a KVM zone built through the API with the
 * harness host added over SSH.
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
 * A KVM zone in the serve process: zone, pod, cluster, the harness's first host added over SSH
 * with its key, an L2 network on VLAN, and the guest OS type the test guest is registered with.
 * The root admin may then register the test guest by host path (kiln.template.local.dir is set).
 */
export async function serveKvmZone(api: ServeApi, hosts: HostsJson, name: string, vlan: string): Promise<{ zone: string; network: string; os: string }> {
  const host = hosts.hosts[0]!;
  const zone = idOf(await api.ok('createZone', { name: `${name} Zone` }), 'zone');
  const pod = idOf(await api.ok('createPod', { name: `${name} Pod`, zoneid: zone }), 'pod');
  const cluster = idOf(await api.ok('addCluster', { clustername: `${name} Cluster`, zoneid: zone, podid: pod, hypervisor: 'KVM' }), 'cluster');
  await api.ok('addHost', {
    zoneid: zone, podid: pod, clusterid: cluster, hypervisor: 'KVM', url: `ssh://${host.address}:${host.port}`, username: host.username,
    privatekey: readFileSync(host.privateKeyPath, 'utf8'), 'details[0].pool': hosts.poolName,
  });
  const network = idOf(await api.ok('createNetwork', { name: `${name.toLowerCase().replace(/\s+/g, '-')}-l2`, zoneid: zone, vlan }), 'network');
  const os = idOf(await api.ok('listOsTypes', { description: 'Other Linux (64-bit)' }), 'ostype');
  await api.ok('updateConfiguration', { name: 'kiln.template.local.dir', value: hosts.storagePath });
  return { zone, network, os };
}
