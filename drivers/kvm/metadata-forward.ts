/**
 * How guests on a remote KVM host reach Kiln's metadata HTTP service (R62): an SSH remote forward
 * on the host's pooled connection. The host's sshd listens on the guests' side (the host's own
 * address on the guest network, which guests use as their gateway and so as cloud-init's metadata
 * server) and hands each connection to Kiln over the SSH connection as a forwarded-tcpip channel.
 * sshd puts the connection's originator address (the guest's own IP, as the host's kernel saw it)
 * in that channel's open request, so the service identifies the guest by the address the host
 * saw, not by the SSH peer (which is always Kiln). No proxy in between rewrites the source: sshd
 * itself accepts the guest's TCP connection, so the originator is the guest's socket's peer.
 *
 * What that trusts: the host's sshd, which Kiln already trusts with the VM itself (pinned host
 * key), and the host's network to stop a guest from spoofing another guest's source address
 * (libvirt's clean-traffic nwfilter, or a bridge with per-port MAC/IP filtering). Binding a
 * non-loopback address needs `GatewayPorts clientspecified` in the host's sshd_config; port 80 and
 * the password server's 8080 need a root login (Kiln's KVM hosts use one).
 */
import type { Duplex } from 'node:stream';
import type { Client, TcpConnectionDetails } from 'ssh2';
import { DriverError, type MetadataRelayFacet, type RelayConnectionHandler, type RelayListener } from '../types.js';

export interface GuestForward {
  /** The port sshd bound (the one asked for, or the one it chose for 0). */
  readonly port: number;
  close(): Promise<void>;
}

/**
 * Asks the host's sshd to listen on ADDRESS:PORT and gives each connection to ONCONNECTION with
 * the originator address sshd reported. Connections for other forwards on the same client are
 * left to their own listeners.
 */
export function forwardGuestPort(client: Client, address: string, port: number, onConnection: (stream: Duplex, originator: string) => void): Promise<GuestForward> {
  return new Promise((resolve, reject) => {
    client.forwardIn(address, port, (error, bound) => {
      if (error) return reject(new DriverError(`the host refused to listen on ${address}:${port} for guests' metadata (${error.message}); the address must be the host's own, and a non-loopback one needs GatewayPorts clientspecified in its sshd_config`, 'failed'));
      const actual = port === 0 ? bound : port;
      const listener = (info: TcpConnectionDetails, accept: () => Duplex, _reject: () => void) => {
        if (info.destPort !== actual || info.destIP !== address) return;
        onConnection(accept(), info.srcIP);
      };
      client.on('tcp connection', listener);
      resolve({
        port: actual,
        close: () =>
          new Promise<void>((done) => {
            client.off('tcp connection', listener);
            // A lost connection may never answer the cancel; its listener is gone with it anyway.
            const timer = setTimeout(done, 2_000);
            const finish = () => {
              clearTimeout(timer);
              done();
            };
            try {
              client.unforwardIn(address, actual, finish);
            } catch {
              finish(); // the connection is gone already, and the listener with it
            }
          }),
      });
    });
  });
}

/** What the relay needs of the host's connection (SshConnection.forwardIn). */
export interface RemoteForwarder {
  forwardIn(address: string, port: number, onConnection: (stream: Duplex, originator: string) => void): Promise<GuestForward>;
}

/**
 * The KVM host's metadata relay facet: one remote forward per listener, on the session's pooled
 * SSH connection, opened once and kept until the session closes (a lost connection ends the
 * session, and the engine's next session opens them again). `ensure` is idempotent.
 */
export class MetadataRelay implements MetadataRelayFacet {
  private readonly open = new Map<string, Promise<GuestForward>>();
  private handler: RelayConnectionHandler | undefined;

  constructor(private readonly ssh: RemoteForwarder) {}

  async ensure(listeners: RelayListener[], onConnection: RelayConnectionHandler): Promise<{ listener: RelayListener; reason: string }[]> {
    this.handler = onConnection;
    const failed: { listener: RelayListener; reason: string }[] = [];
    await Promise.all(
      listeners.map(async (listener) => {
        const key = `${listener.address}:${listener.port}`;
        let forward = this.open.get(key);
        if (!forward) {
          forward = this.ssh.forwardIn(listener.address, listener.port, (stream, originator) => this.handler?.(stream, { guestAddress: originator, listener }));
          this.open.set(key, forward);
        }
        try {
          await forward;
        } catch (error) {
          // Not kept: the next ensure (a later start, a new network) tries again.
          if (this.open.get(key) === forward) this.open.delete(key);
          failed.push({ listener, reason: error instanceof Error ? error.message : String(error) });
        }
      }),
    );
    return failed;
  }

  async close(): Promise<void> {
    const forwards = [...this.open.values()];
    this.open.clear();
    this.handler = undefined;
    await Promise.all(forwards.map((f) => f.then((forward) => forward.close(), () => undefined)));
  }
}
