/**
 * A domain's VNC display on a local port: a loopback TCP server whose connections are carried
 * through the host's SSH connection (direct-tcpip) to the VNC port qemu listens on. Domains Kiln
 * defines listen on the host's loopback only, so VNC is never exposed on the network.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { DriverError } from '../types.js';
import { parseVncDisplay } from './virsh-output.js';
import type { Virsh } from './virsh.js';

export interface VncForward {
  /** Connect a VNC client to 127.0.0.1:port. */
  port: number;
  close(): Promise<void>;
}

export async function forwardVnc(virsh: Virsh, name: string): Promise<VncForward> {
  const display = parseVncDisplay(await virsh.run(['vncdisplay', '--domain', name]));
  if (!display) throw new DriverError(`domain ${name} has no VNC display`, 'unsupported');
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.pause();
    virsh.ssh.forwardOut(display.host, display.port).then(
      (channel) => {
        socket.pipe(channel).pipe(socket);
        socket.resume();
        channel.on('close', () => socket.destroy());
        socket.on('close', () => channel.close());
        socket.on('error', () => channel.close());
      },
      () => socket.destroy(),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  if (!address || typeof address === 'string') throw new DriverError('cannot open a local port for VNC', 'failed');
  return {
    port: address.port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
