/**
 * Counts the SOAP methods a vSphere driver sends: every VimClient connected while recording has
 * its transport wrapped, so each request's method name (the Body's first element) lands in
 * `methods`. stop() restores VimClient.connect; clients connected meanwhile keep counting.
 */
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
