/**
 * How a KVM host is added (the rules addHost used to hold): ssh://host[:port] (CloudStack's
 * http://host form is taken too, and means SSH), a password or a private key, and an
 * SSH host key trusted on first use or as the admin confirmed it.
 */
import { DriverError, type ConnectionForm, type ConnectionInput, type TrustAnchor } from '../types.js';
import { probeHostKey } from './host-key-probe.js';

export const KVM_CONNECTION_FORM: ConnectionForm = {
  urlExample: 'ssh://10.0.0.5',
  urlRule: 'a KVM host is reached as ssh://host[:port]',
  credentials: [['password'], ['privatekey']],
  adds: 'host',
  trust: 'ssh-host-key',
};

function parse(url: string): URL {
  try {
    return new URL(url);
  } catch {
    throw new DriverError(`url: "${url}" is not a URL (e.g. ${KVM_CONNECTION_FORM.urlExample})`, 'invalid', { param: 'url' });
  }
}

export function validateKvmConnection(input: ConnectionInput): { url: string; name: string } {
  const url = parse(input.url);
  if ((url.protocol !== 'ssh:' && url.protocol !== 'http:') || !url.hostname) throw new DriverError(`url: ${KVM_CONNECTION_FORM.urlRule}`, 'invalid', { param: 'url' });
  if (!input.password && !input.privateKey) throw new DriverError('password or privatekey: a KVM host needs one', 'invalid', { param: 'password' });
  return { url: `ssh://${url.hostname}:${url.port || 22}`, name: url.hostname };
}

export async function probeKvmTrust(input: string): Promise<TrustAnchor> {
  const url = parse(input);
  if (url.protocol !== 'ssh:') throw new DriverError('url: give ssh://host[:port]', 'invalid', { param: 'url' });
  return { kind: 'ssh-host-key', fingerprint: await probeHostKey(url.hostname, Number(url.port || 22)) };
}
