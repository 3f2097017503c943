import { defineCommand, ADMIN_ONLY } from '../../registry/types.js';
import { ApiError } from '../../registry/errors.js';
import { SSH_URL_RULE } from '../../registry/param-rules.js';
import { probeHostKey } from '../../../../drivers/kvm/host-key-probe.js';

export default defineCommand({
  name: 'probeHostKey',
  description: 'Kiln: reads the SSH host-key fingerprint of a KVM host before it is added, so the admin can confirm it; pass it to addHost as hostkeyfingerprint to pin exactly that key.',
  kind: 'sync',
  roles: ADMIN_ONLY,
  response: 'hostkey',
  params: [{ name: 'url', type: 'string', required: true, rule: SSH_URL_RULE, description: 'the host URL, ssh://host[:port]' }],
  async handler(_ctx, args) {
    let url: URL;
    try {
      url = new URL(args.str('url')!);
    } catch {
      throw ApiError.param(`url: "${args.str('url')}" is not a URL (e.g. ssh://10.0.0.5)`);
    }
    if (url.protocol !== 'ssh:') throw ApiError.param('url: give ssh://host[:port]');
    const fingerprint = await probeHostKey(url.hostname, Number(url.port || 22));
    return { url: `ssh://${url.hostname}${url.port ? `:${url.port}` : ''}`, fingerprint, algorithm: 'SHA256' };
  },
});
