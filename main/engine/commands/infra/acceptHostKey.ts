import { defineCommand, ADMIN_ONLY } from '../../registry/types.js';
import { TRUST_FINGERPRINT_RULE } from '../../registry/param-rules.js';
import { ApiError } from '../../registry/errors.js';
import { byUuid } from '../../lookup.js';
import { hostView } from '../../views.js';
import { trustText, type HostRow } from '../../hosts/host-manager.js';

export default defineCommand({
  name: 'acceptHostKey',
  description: 'Kiln: after a host\'s SSH key or its endpoint\'s TLS certificate changed (the host is in Alert and refused), an admin who has checked the new one out of band pins it by its fingerprint. Hosts behind one endpoint (the ESXi hosts of a vCenter) share its certificate, so all of them take the new pin.',
  kind: 'sync',
  roles: ADMIN_ONLY,
  response: 'host',
  params: [
    { name: 'id', type: 'uuid', required: true, description: 'the host' },
    { name: 'fingerprint', type: 'string', required: true, rule: TRUST_FINGERPRINT_RULE, description: 'the new fingerprint as the refusal showed it: SHA256:… for an SSH host key, AB:CD:… (SHA-256) for a TLS certificate' },
  ],
  async handler({ engine, caller }, args) {
    const host = byUuid<HostRow>(engine.db, 'host', args.uuid('id')!, 'id');
    // The anchor is of the kind the host's driver trusts by (an SSH host key for KVM, a TLS certificate for a vCenter).
    const kind = engine.hosts.driver(host.hypervisor).connectionForm.trust;
    const given = args.str('fingerprint')!;
    const tls = !given.startsWith('SHA256:');
    if (tls !== (kind === 'tls-certificate')) {
      throw ApiError.param(`fingerprint: host ${host.name} is trusted by its ${kind === 'tls-certificate' ? 'endpoint\'s TLS certificate (a thumbprint AB:CD:…)' : 'SSH host key (SHA256:…)'}, not by ${tls ? 'a TLS thumbprint' : 'an SSH key'}`);
    }
    const fingerprint = tls ? given.toUpperCase() : given;
    // Every host row reached through the same endpoint (URL) shares its anchor.
    const rows = engine.db.prepare('SELECT * FROM hosts WHERE url=? AND removed IS NULL').all(host.url) as HostRow[];
    const pin = engine.db.prepare('UPDATE hosts SET trust_kind=?, trust_fingerprint=? WHERE id=?');
    for (const row of rows) pin.run(kind, fingerprint, row.id);
    for (const row of rows) await engine.hosts.drop(row.id);
    try {
      await engine.hosts.session(host.id);
    } catch (error) {
      for (const row of rows) pin.run(row.trust_kind, row.trust_fingerprint, row.id);
      throw error;
    }
    // The endpoint answers again: its other hosts reconnect over it now rather than on their next use.
    for (const row of rows) if (row.id !== host.id) await engine.hosts.session(row.id).catch(() => undefined);
    engine.events.record({ type: 'HOST.KEY.ACCEPT', level: 'WARN', description: `host ${host.name}${rows.length > 1 ? ` (and the ${rows.length - 1} other host${rows.length > 2 ? 's' : ''} behind ${host.url})` : ''}: ${trustText({ trust_kind: kind, trust_fingerprint: host.trust_fingerprint })} changed to ${fingerprint}, accepted by ${caller.username}`, userId: caller.userId, accountId: caller.accountId });
    return hostView(engine.db, engine.planner, engine.db.prepare('SELECT * FROM hosts WHERE id=?').get(host.id) as HostRow, true);
  },
});
