/**
 * What the real UEFI tests share (kvm-uefi-move.real: a stopped VM moved cold with its disk;
 * kvm-uefi-migrate.real: live and definition-only migrations): where a host keeps a domain's
 * nvram file as the test process sees it, its SHA-256, and the afterAll that removes what such a
 * test made: Kiln's VMs, then the hand-made domain, its root disk and its nvram file on both hosts.
 */
import { createHash } from 'node:crypto';
import { readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { afterAll } from 'vitest';
import { ConsoleTap, WORK } from '../kvm/real-hosts.js';
import { closeKvmZone, onHost, type KvmZone } from './kvm-zone.js';

/** OVMF's variable-store template (the ovmf package, which test/kvm-hosts/hosts.sh installs). */
export const TEMPLATE_VARS = '/usr/share/OVMF/OVMF_VARS_4M.fd';

/** HOST's nvram file of domain NAME as the test process sees it (the harness bind-mounts $WORK/hosts/HOST/lib over /var/lib/libvirt). */
export const nvramFile = (host: string, name: string) => path.join(WORK, 'hosts', host, 'lib', 'qemu', 'nvram', `${name}_VARS.fd`);

export const sha256 = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');

/** Removes domain NAME, its root disk ROOT (in POOL) and its nvram file on host1 and host2, whatever is left of them. */
export function removeUefiDomain(name: string, root: string, pool: string): void {
  for (const host of ['host1', 'host2']) {
    onHost(host, 'sh', '-c', `virsh destroy ${name} >/dev/null 2>&1; virsh undefine --nvram ${name} >/dev/null 2>&1; virsh vol-delete --pool ${pool} ${root} >/dev/null 2>&1; true`);
    rmSync(nvramFile(host, name), { force: true });
  }
}

/**
 * In a describe: the afterAll of a UEFI test. STATE gives its zone and open console (either may
 * not be there, a beforeAll that failed); AFTER removes what else the test made (a pool).
 */
export function uefiAfterAll(state: () => { z?: KvmZone; tap?: ConsoleTap }, domain: { name: string; root: string; pool: string }, after?: () => void): void {
  afterAll(async () => {
    const { z, tap } = state();
    tap?.close();
    await closeKvmZone(z);
    removeUefiDomain(domain.name, domain.root, domain.pool);
    after?.();
  }, 180_000);
}
