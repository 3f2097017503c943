/**
 * A libvirt dir pool a real-host test defines on one host of the harness (a second pool beside the
 * harness's kiln pool, for storage-tag cases), and its removal, which tolerates a pool already gone.
 */
import { mkdirSync, rmSync } from 'node:fs';
import { onHost } from './kvm-zone.js';

export function defineDirPool(host: string, name: string, dir: string): void {
  mkdirSync(dir, { recursive: true });
  onHost(host, 'virsh', 'pool-define-as', name, 'dir', '--target', dir);
  onHost(host, 'virsh', 'pool-start', name);
}

export function removeDirPool(host: string, name: string, dir: string): void {
  for (const step of ['pool-destroy', 'pool-undefine']) {
    try {
      onHost(host, 'virsh', step, name);
    } catch {
      // not running / not defined
    }
  }
  rmSync(dir, { recursive: true, force: true });
}
