/**
 * A domain's serial console as a byte stream: `virsh console --force` on an exec channel with a
 * pty (virsh refuses to run a console without a terminal), the way cockpit-machines does it.
 * The stream carries only the guest's bytes: virsh's "Connected to domain" header is dropped,
 * and ending the stream sends Ctrl-] so virsh detaches cleanly.
 */
import { Duplex } from 'node:stream';
import type { ClientChannel } from 'ssh2';
import { DriverError } from '../types.js';
import { command } from './shell.js';
import { virshError, type Virsh } from './virsh.js';

const HEADER_END = /Escape character is \^\][^\n]*\n/;
const DETACH = '\x1d';

export async function openConsole(virsh: Virsh, name: string, timeoutMs = 15_000): Promise<Duplex> {
  // --force takes the console over from another client (a stale session, another Kiln window).
  const channel = await virsh.ssh.openChannel(command(virsh.argv(['console', '--force', '--domain', name])), { pty: true });
  const leftover = await waitForHeader(channel, timeoutMs);
  return wrap(channel, leftover);
}

/** Resolves with the bytes after virsh's header, or rejects with virsh's own error. */
function waitForHeader(channel: ClientChannel, timeoutMs: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    let seen = Buffer.alloc(0);
    const cleanup = () => {
      clearTimeout(timer);
      channel.off('data', onData);
      channel.off('close', onClose);
    };
    const onData = (chunk: Buffer) => {
      seen = Buffer.concat([seen, chunk]);
      const text = seen.toString('latin1');
      const match = HEADER_END.exec(text);
      if (match) {
        cleanup();
        channel.pause();
        resolve(seen.subarray(match.index + match[0].length));
      }
    };
    const onClose = () => {
      cleanup();
      // With a pty, virsh's stderr arrives on the same stream.
      reject(virshError(seen.toString('utf8').replace(/\r/g, ''), 'the console closed before it connected'));
    };
    const timer = setTimeout(() => {
      cleanup();
      channel.close();
      reject(new DriverError(`virsh console did not connect within ${Math.round(timeoutMs / 1000)} s`, 'timeout'));
    }, timeoutMs);
    channel.on('data', onData);
    channel.on('close', onClose);
  });
}

function wrap(channel: ClientChannel, leftover: Buffer): Duplex {
  let detached = false;
  const stream = new Duplex({
    read() {
      channel.resume();
    },
    write(chunk: Buffer | string, encoding, callback) {
      channel.write(chunk, encoding, () => callback());
    },
    final(callback) {
      detach();
      callback();
    },
    destroy(error, callback) {
      detach();
      callback(error);
    },
  });
  const detach = () => {
    if (detached) return;
    detached = true;
    try {
      channel.write(DETACH);
      channel.end();
    } catch {
      /* the channel is already gone */
    }
    // virsh exits on Ctrl-]; do not wait for it forever.
    setTimeout(() => channel.close(), 1_000).unref();
  };
  channel.on('data', (chunk: Buffer) => {
    if (!stream.push(chunk)) channel.pause();
  });
  // The guest powered off or the connection died: the console ends.
  channel.on('close', () => {
    detached = true;
    stream.push(null);
  });
  channel.stderr.on('data', (chunk: Buffer) => stream.push(chunk));
  if (leftover.length) stream.push(leftover);
  return stream;
}
