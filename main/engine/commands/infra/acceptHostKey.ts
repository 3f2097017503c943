import { defineCommand, ADMIN_ONLY } from '../../registry/types.js';
import { SSH_FINGERPRINT_RULE } from '../../registry/param-rules.js';
import { byUuid } from '../../lookup.js';
import { hostView } from '../../views.js';
import { trustText, type HostRow } from '../../hosts/host-manager.js';

export default defineCommand({
  name: 'acceptHostKey',
  description: 'Kiln: after a host\'s SSH key changed (the host is in Alert and refused), an admin who has checked the new key out of band pins it by its fingerprint.',
  kind: 'sync',
  roles: ADMIN_ONLY,
  response: 'host',
  params: [
    { name: 'id', type: 'uuid', required: true, description: 'the host' },
    { name: 'fingerprint', type: 'string', required: true, rule: SSH_FINGERPRINT_RULE, description: 'the new key\'s fingerprint, SHA256:… as the refusal showed it' },
  ],
  async handler({ engine, caller }, args) {
    const host = byUuid<HostRow>(engine.db, 'host', args.uuid('id')!, 'id');
    const fingerprint = args.str('fingerprint')!;
    const previous = { kind: host.trust_kind, fingerprint: host.trust_fingerprint };
    // The anchor is of the kind the host's driver trusts by (an SSH host key for KVM).
    const kind = engine.hosts.driver(host.hypervisor).connectionForm.trust;
    const pin = engine.db.prepare('UPDATE hosts SET trust_kind=?, trust_fingerprint=? WHERE id=?');
    pin.run(kind, fingerprint, host.id);
    await engine.hosts.drop(host.id);
    try {
      await engine.hosts.session(host.id);
    } catch (error) {
      pin.run(previous.kind, previous.fingerprint, host.id);
      throw error;
    }
    engine.events.record({ type: 'HOST.KEY.ACCEPT', level: 'WARN', description: `host ${host.name}: ${trustText({ trust_kind: kind, trust_fingerprint: previous.fingerprint })} changed to ${fingerprint}, accepted by ${caller.username}`, userId: caller.userId, accountId: caller.accountId });
    return hostView(engine.db, engine.planner, engine.db.prepare('SELECT * FROM hosts WHERE id=?').get(host.id) as HostRow, true);
  },
});
