import { defineCommand, ADMIN_ONLY } from '../../registry/types.js';
import { ApiError } from '../../registry/errors.js';
import { SSH_URL_RULE } from '../../registry/param-rules.js';

export default defineCommand({
  name: 'probeHostKey',
  description: 'Kiln: reads the SSH host-key fingerprint of a host before it is added, so the admin can confirm it; pass it to addHost as hostkeyfingerprint to pin exactly that key.',
  kind: 'sync',
  roles: ADMIN_ONLY,
  response: 'hostkey',
  params: [{ name: 'url', type: 'string', required: true, rule: SSH_URL_RULE, description: 'the host URL, ssh://host[:port]' }],
  async handler({ engine }, args) {
    let url: URL;
    try {
      url = new URL(args.str('url')!);
    } catch {
      throw ApiError.param(`url: "${args.str('url')}" is not a URL (e.g. ssh://10.0.0.5)`);
    }
    if (url.protocol !== 'ssh:') throw ApiError.param('url: give ssh://host[:port]');
    // Whichever driver's endpoints are trusted by SSH host keys reads it (drivers/*/probeTrust).
    const driver = engine.hosts.drivers().find((d) => d.connectionForm.trust === 'ssh-host-key' && new URL(d.connectionForm.urlExample).protocol === url.protocol);
    if (!driver) throw ApiError.unavailable('no driver in this Kiln reaches hosts over SSH');
    const trust = await driver.probeTrust(url.toString());
    return { url: `${url.protocol}//${url.host}`, fingerprint: trust.fingerprint, algorithm: 'SHA256', trustkind: trust.kind };
  },
});
