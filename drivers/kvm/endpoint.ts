/**
 * A KVM endpoint is one libvirt host over one SSH connection, so it reports exactly one host
 * (its session) and its event stream is that session's. KVM runs no hypervisor tasks: there is no
 * reattachTask, and the engine reconciles an interrupted job with what the host reports.
 */
import { DriverError, type Endpoint, type EndpointEvent, type EndpointHost, type TrustAnchor } from '../types.js';
import type { KvmSession } from './session.js';

export class KvmEndpoint implements Endpoint {
  constructor(readonly session: KvmSession) {}

  get trust(): TrustAnchor | undefined {
    return this.session.trust;
  }

  async hosts(): Promise<EndpointHost[]> {
    return [{ ref: this.session.ref, name: this.session.address.host, connected: true }];
  }

  host(ref: string): KvmSession {
    if (ref !== this.session.ref) throw new DriverError(`host ${ref} is not behind the KVM endpoint ${this.session.address.host} (it has only itself)`, 'not-found');
    return this.session;
  }

  onEvent(listener: (event: EndpointEvent) => void): () => void {
    return this.session.onEvent(listener);
  }

  close(): Promise<void> {
    return this.session.close();
  }
}
