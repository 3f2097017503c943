/**
 * How guests on a remote KVM host reach Kiln's metadata HTTP service (R62): an SSH remote forward
 * on the host's connection. The host's sshd listens on the guests' side (the address guests use as
 * their metadata server, on their bridge) and hands each connection to Kiln over the SSH
 * connection as a forwarded-tcpip channel. sshd puts the connection's originator address (the
 * guest's own IP, as the host's kernel saw it) in that channel's open request, so the service
 * identifies the guest by the address the host saw, not by the SSH peer (which is always Kiln).
 *
 * What that trusts: the host's sshd, which Kiln already trusts with the VM itself (pinned host
 * key), and the host's network to stop a guest from spoofing another guest's source address
 * (libvirt's clean-traffic nwfilter, or a bridge with per-port MAC/IP filtering). Binding a
 * non-loopback address needs `GatewayPorts clientspecified` in the host's sshd_config; port 80 and
 * the password server's 8080 need a root login (Kiln's KVM hosts use one).
 */
import type { Duplex } from 'node:stream';
import type { Client, TcpConnectionDetails } from 'ssh2';
import { DriverError } from '../types.js';

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
      if (error) return reject(new DriverError(`the host refused to listen on ${address}:${port} for guests' metadata (${error.message}); a non-loopback address needs GatewayPorts clientspecified in its sshd_config`, 'failed'));
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
            client.unforwardIn(address, actual, () => done());
          }),
      });
    });
  });
}
