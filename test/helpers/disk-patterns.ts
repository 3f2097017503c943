/**
 * A stopped VM's disk read and written on its host with qemu-io (hosts.sh exec): the restore tests
 * fill a range with one byte, back up, fill it with another, restore, and ask which one it holds.
 */
import { onHost } from './kvm-zone.js';

/** Fills RANGE ("offset length", qemu-io's units) of the qcow2 disk at PATH on HOST with the byte PATTERN (0x5a). */
export function fillDisk(host: string, path: string, pattern: string, range: string): void {
  onHost(host, 'qemu-io', '-f', 'qcow2', '-c', `write -P ${pattern} ${range}`, path);
}

/** Whether every byte of RANGE of the disk at PATH on HOST is PATTERN. */
export function diskHolds(host: string, path: string, pattern: string, range: string): boolean {
  const out = onHost(host, 'sh', '-c', 'qemu-io -f qcow2 -c "read -P $2 $3" "$1" 2>&1; true', 'sh', path, pattern, range);
  return /read \d+\/\d+ bytes/.test(out) && !/verification failed/i.test(out);
}
