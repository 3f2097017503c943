import { randomUUID } from 'node:crypto';
import { SSH_FINGERPRINT_RULE } from '../../registry/param-rules.js';
import { defineCommand, ADMIN_ONLY } from '../../registry/types.js';
import { ApiError } from '../../registry/errors.js';
import { byUuid } from '../../lookup.js';
import { now } from '../../db/database.js';
import { hostView } from '../../views.js';
import { trustText, type HostRow } from '../../hosts/host-manager.js';
import type { HypervisorType } from '../../../../drivers/types.js';

export default defineCommand({
  name: 'addHost',
  description: 'Adds a new host. The URL and credentials follow the hypervisor driver\'s rules (KVM: url ssh://host[:port], username, and a password or a private key); the host\'s trust anchor (SSH host key, TLS certificate) is trusted on first use and pinned.',
  kind: 'sync',
  roles: ADMIN_ONLY,
  response: 'host',
  sensitive: ['password', 'privatekey'],
  params: [
    { name: 'zoneid', type: 'uuid', required: true, description: 'the Zone ID for the host' },
    { name: 'podid', type: 'uuid', required: true, description: 'the Pod ID for the host' },
    { name: 'clusterid', type: 'uuid', required: true, description: 'the cluster ID for the host' },
    { name: 'url', type: 'string', required: true, description: 'the host URL, e.g. ssh://10.0.0.5 for KVM' },
    { name: 'hypervisor', type: 'string', required: true, description: 'hypervisor type of the host' },
    { name: 'username', type: 'string', description: 'the username for the host' },
    { name: 'password', type: 'string', description: 'the password for the host' },
    { name: 'privatekey', type: 'string', maxLength: 16384, description: 'Kiln: an SSH private key (OpenSSH or PEM) instead of a password' },
    { name: 'hosttags', type: 'list', description: 'list of tags to be added to the host' },
    { name: 'hostkeyfingerprint', type: 'string', rule: SSH_FINGERPRINT_RULE, description: 'Kiln: the SSH host-key fingerprint the admin confirmed (from probeHostKey); the host must present exactly this key' },
    { name: 'details', type: 'map', description: 'Kiln: driver options, e.g. details[0].pool=kiln' },
  ],
  async handler({ engine, caller }, args) {
    const db = engine.db;
    const cluster = byUuid<{ id: number; pod_id: number; zone_id: number; hypervisor: string; name: string }>(db, 'cluster', args.uuid('clusterid')!, 'clusterid');
    const pod = byUuid<{ id: number }>(db, 'pod', args.uuid('podid')!, 'podid');
    const zone = byUuid<{ id: number }>(db, 'zone', args.uuid('zoneid')!, 'zoneid');
    if (cluster.pod_id !== pod.id || cluster.zone_id !== zone.id) throw ApiError.param('clusterid: the cluster is not in that pod and zone');
    if (args.str('hypervisor')!.toLowerCase() !== cluster.hypervisor.toLowerCase()) throw ApiError.param(`hypervisor: cluster ${cluster.name} is ${cluster.hypervisor}`);
    // The driver owns its URL and credential rules (and the canonical form that is deduplicated).
    const driver = engine.hosts.driver(cluster.hypervisor as HypervisorType);
    const { url: canonical, name } = driver.validateConnection({ url: args.str('url')!, username: args.str('username'), password: args.str('password'), privateKey: args.str('privatekey') }, 'host');
    if (db.prepare('SELECT 1 FROM hosts WHERE url=? AND removed IS NULL').get(canonical)) throw ApiError.param(`url: host ${canonical} is already added`);
    const pinned = args.str('hostkeyfingerprint');
    const secret = engine.hosts.sealSecret({ password: args.str('password'), privateKey: args.str('privatekey') });
    const uuid = randomUUID();
    const id = Number(
      db.prepare('INSERT INTO hosts (uuid, name, zone_id, pod_id, cluster_id, hypervisor, url, username, secret_enc, host_tags, options, trust_kind, trust_fingerprint, state, created) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)')
        .run(uuid, name, zone.id, pod.id, cluster.id, cluster.hypervisor, canonical, args.str('username') ?? 'root', secret, (args.list('hosttags') ?? []).join(','), JSON.stringify(args.details('details') ?? {}), pinned ? driver.connectionForm.trust : null, pinned ?? null, 'Connecting', now()).lastInsertRowid,
    );
    try {
      await engine.hosts.session(id);
    } catch (error) {
      // A host Kiln cannot reach is not added: nothing stays half-written.
      await engine.hosts.drop(id);
      db.prepare('DELETE FROM hosts WHERE id=?').run(id);
      throw ApiError.unavailable(`could not add host ${canonical}: ${error instanceof Error ? error.message.replace(/^host \S+ is not reachable: /, '') : String(error)}`);
    }
    const row = db.prepare('SELECT * FROM hosts WHERE id=?').get(id) as HostRow;
    engine.events.record({ type: 'HOST.ADD', description: `host ${row.name} added (${row.hypervisor}); ${trustText(row)} ${pinned ? 'confirmed by the admin' : 'trusted on first use'}`, userId: caller.userId, accountId: caller.accountId });
    return hostView(db, engine.planner, row, true);
  },
});
