/**
 * Reads a host's SSH key fingerprint without logging in, so an admin can compare it with the
 * one the host's console shows before Kiln trusts it (the confirm step of adding a host).
 */
import { Client } from 'ssh2';
import { DriverError } from '../types.js';
import { sshFingerprint } from './ssh-connection.js';

export function probeHostKey(host: string, port: number, timeoutMs = 10_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const client = new Client();
    let fingerprint: string | undefined;
    const timer = setTimeout(() => {
      client.end();
      reject(new DriverError(`no SSH answer from ${host}:${port} within ${timeoutMs} ms`, 'unreachable'));
    }, timeoutMs);
    client.on('error', (error: Error) => {
      clearTimeout(timer);
      // Refusing the key in hostVerifier aborts the handshake on purpose: that is success here.
      if (fingerprint) resolve(fingerprint);
      else reject(new DriverError(`cannot reach ${host}:${port}: ${error.message}`, 'unreachable'));
    });
    client.connect({
      host,
      port,
      username: 'kiln-probe',
      readyTimeout: timeoutMs,
      hostVerifier: (key: Buffer) => {
        fingerprint = sshFingerprint(key);
        return false;
      },
    });
  });
}
