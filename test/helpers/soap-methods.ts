/**
 * Counts the SOAP methods a vSphere driver sends: every VimClient connected while recording has
 * its transport wrapped, so each request's method name (the Body's first element) lands in
 * `methods`. stop() restores VimClient.connect; clients connected meanwhile keep counting.
 * recordEnvelopes keeps the whole envelopes one connected endpoint sends (to check what text
 * reached SOAP, and how it was escaped).
 */
import type { Endpoint } from '../../drivers/types.js';
import type { VsphereEndpoint } from '../../drivers/vsphere/endpoint.js';
import { VimClient } from '../../drivers/vsphere/soap/client.js';

export function recordSoapMethods(): { methods: string[]; stop(): void } {
  const methods: string[] = [];
  const connect = VimClient.connect.bind(VimClient);
  VimClient.connect = async (opts) => {
    const c = await connect(opts);
    const post = c.transport.post.bind(c.transport);
    c.transport.post = (envelope, ...rest) => {
      methods.push(/<soapenv:Body><(\w+)/.exec(envelope)![1]!);
      return post(envelope, ...rest);
    };
    return c;
  };
  return { methods, stop: () => void (VimClient.connect = connect) };
}

/** Every SOAP envelope a connected vSphere endpoint EP sends from now on, in order, in `sent`; stop() unwraps its transport. */
export function recordEnvelopes(ep: Endpoint): { sent: string[]; stop(): void } {
  const transport = (ep as unknown as { ep: VsphereEndpoint }).ep.client.transport;
  const post = transport.post.bind(transport);
  const sent: string[] = [];
  transport.post = (envelope, ...rest) => {
    sent.push(envelope);
    return post(envelope, ...rest);
  };
  return { sent, stop: () => void (transport.post = post) };
}
