import { randomUUID } from 'node:crypto';
import { defineCommand, ADMIN_ONLY } from '../../registry/types.js';
import { ApiError } from '../../registry/errors.js';
import { byUuid } from '../../lookup.js';
import { now } from '../../db/database.js';
import type { HypervisorType } from '../../../../drivers/types.js';

const HYPERVISORS = ['KVM', 'VMware', 'XenServer', 'Simulator'];

export default defineCommand({
  name: 'addCluster',
  description: 'Adds a new cluster. For a hypervisor whose endpoint holds a whole cluster (a vCenter cluster, a pool), url, username and password add its hosts too, as CloudStack does (url follows the driver\'s rules, e.g. https://VCENTER/DATACENTER/CLUSTER).',
  kind: 'sync',
  roles: ADMIN_ONLY,
  response: 'cluster',
  sensitive: ['password'],
  params: [
    { name: 'clustername', type: 'string', required: true, description: 'the cluster name' },
    { name: 'zoneid', type: 'uuid', required: true, description: 'the Zone ID for the cluster' },
    { name: 'podid', type: 'uuid', required: true, description: 'the Pod ID for the host' },
    { name: 'hypervisor', type: 'string', required: true, description: 'hypervisor type of the cluster: KVM, VMware, XenServer, Simulator' },
    { name: 'clustertype', type: 'string', description: 'type of the cluster: CloudManaged (default)' },
    { name: 'url', type: 'string', description: 'the URL of the endpoint that holds the cluster (vCenter, pool master)' },
    { name: 'username', type: 'string', description: 'the username for the cluster' },
    { name: 'password', type: 'string', description: 'the password for the cluster' },
    { name: 'trustfingerprint', type: 'string', description: 'Kiln: the endpoint\'s TLS certificate thumbprint (SHA-256) the admin confirmed; without it, the first one seen is trusted and pinned' },
  ],
  async handler({ engine, caller }, args) {
    const db = engine.db;
    const zone = byUuid<{ id: number; uuid: string; name: string }>(db, 'zone', args.uuid('zoneid')!, 'zoneid');
    const pod = byUuid<{ id: number; uuid: string; name: string; zone_id: number }>(db, 'pod', args.uuid('podid')!, 'podid');
    if (pod.zone_id !== zone.id) throw ApiError.param('podid: the pod is not in that zone');
    const hypervisor = HYPERVISORS.find((h) => h.toLowerCase() === args.str('hypervisor')!.toLowerCase());
    if (!hypervisor) throw ApiError.param(`hypervisor: one of ${HYPERVISORS.join(', ')}`);
    const name = args.str('clustername')!;
    if (db.prepare('SELECT 1 FROM clusters WHERE pod_id=? AND name=? AND removed IS NULL').get(pod.id, name)) throw ApiError.param(`clustername: pod ${pod.name} already has a cluster named ${name}`);
    const url = args.str('url');
    const discovered = url ? await discoverHosts(engine, hypervisor as HypervisorType, args.str('url')!, args.str('username'), args.str('password'), args.str('trustfingerprint')) : undefined;
    const uuid = randomUUID();
    const clusterId = Number(db.prepare('INSERT INTO clusters (uuid, name, pod_id, zone_id, hypervisor, created) VALUES (?,?,?,?,?,?)').run(uuid, name, pod.id, zone.id, hypervisor, now()).lastInsertRowid);
    const hostIds: number[] = [];
    if (discovered) {
      const secret = engine.hosts.sealSecret({ password: args.str('password') });
      // Each host behind the endpoint is a host row on the endpoint's URL, told apart by its ref.
      for (const host of discovered.hosts) {
        hostIds.push(Number(
          db.prepare('INSERT INTO hosts (uuid, name, zone_id, pod_id, cluster_id, hypervisor, url, ref, username, secret_enc, host_tags, options, trust_kind, trust_fingerprint, state, created) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)')
            .run(randomUUID(), host.name, zone.id, pod.id, clusterId, hypervisor, discovered.url, host.ref, args.str('username') ?? null, secret, '', '{}', discovered.trust?.kind ?? null, discovered.trust?.fingerprint ?? null, 'Connecting', now()).lastInsertRowid,
        ));
      }
      try {
        for (const id of hostIds) await engine.hosts.session(id);
      } catch (error) {
        // Nothing half-written: no cluster whose hosts Kiln could not reach.
        for (const id of hostIds) await engine.hosts.drop(id);
        db.prepare(`DELETE FROM hosts WHERE cluster_id=?`).run(clusterId);
        db.prepare('DELETE FROM clusters WHERE id=?').run(clusterId);
        throw error;
      }
    }
    engine.events.record({ type: 'CLUSTER.CREATE', description: `cluster ${name} (${hypervisor}) created${discovered ? ` with ${discovered.hosts.length} host(s) from ${discovered.url}` : ''}`, userId: caller.userId, accountId: caller.accountId, resourceType: 'Cluster', resourceUuid: uuid });
    return { id: uuid, name, hypervisortype: hypervisor, clustertype: 'CloudManaged', allocationstate: 'Enabled', managedstate: 'Managed', zoneid: zone.uuid, zonename: zone.name, podid: pod.uuid, podname: pod.name };
  },
});

/** The driver checks the URL and credentials, then lists the endpoint's hosts (one connect). */
async function discoverHosts(engine: import('../../engine.js').Engine, hypervisor: HypervisorType, rawUrl: string, username: string | undefined, password: string | undefined, fingerprint: string | undefined) {
  const driver = engine.hosts.driver(hypervisor);
  if (driver.connectionForm.adds !== 'cluster') throw ApiError.param(`url: a ${hypervisor} cluster gets its hosts one by one (addHost); leave url out`);
  const { url } = driver.validateConnection({ url: rawUrl, username, password }, 'cluster');
  if (engine.db.prepare('SELECT 1 FROM hosts WHERE url=? AND removed IS NULL').get(url)) throw ApiError.param(`url: ${url} is already added`);
  const pinnedTrust = fingerprint ? { kind: driver.connectionForm.trust, fingerprint } : undefined;
  let found;
  try {
    found = await engine.hosts.discover(hypervisor, { url, username, password, pinnedTrust });
  } catch (error) {
    throw ApiError.unavailable(`could not reach ${url}: ${error instanceof Error ? error.message : String(error)}`);
  }
  if (found.hosts.length === 0) throw ApiError.param(`url: ${url} holds no hosts`);
  return { url, hosts: found.hosts, trust: found.trust ?? pinnedTrust };
}
