/**
 * The harness's hosts each have their own /var/lib/kiln, Kiln's directory on a host (its local
 * backup store, staging and restore work), as real hosts do. When it was the machine's own
 * directory for every host of every set, one CI shard's restore work showed up in another
 * shard's listing of the store (the official CI at dd9d913 failed kvm-backup-restore-kill on a
 * `.restore-<uuid>.qcow2` of kvm-backup-restore-link-cut's), and a backup on host1 could be read
 * on host2, which a real host2 cannot do. hostKilnPath is where a test sees a host's file.
 */
import { existsSync, readFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { harness, hostKilnPath, kvmHostsOrSkip, onHost } from '../helpers/kvm-zone.js';

const hosts = kvmHostsOrSkip();
const probe = `/var/lib/kiln/backups/.harness-probe-${randomUUID()}`;

describe.skipIf(!hosts)('the KVM harness hosts', () => {
  afterAll(() => {
    onHost('host1', 'rm', '-f', '--', probe);
  });

  it('each have their own /var/lib/kiln: a file host1 writes there is not on host2 or on this machine, and the test sees it at hostKilnPath', () => {
    onHost('host1', 'sh', '-c', 'mkdir -p /var/lib/kiln/backups && echo host1 >"$1"', 'sh', probe);
    // Over SSH too, as Kiln's driver sees the host: sshd runs in the host's namespaces.
    expect(harness('ssh', 'host1', 'cat', probe).trim()).toBe('host1');
    expect(harness('ssh', 'host2', `test -e ${probe} && echo present || echo absent`).trim()).toBe('absent');
    expect(onHost('host2', 'sh', '-c', 'test -e "$1" && echo present || echo absent', 'sh', probe).trim()).toBe('absent');
    expect(existsSync(probe)).toBe(false);
    expect(readFileSync(hostKilnPath('host1', probe), 'utf8').trim()).toBe('host1');
    expect(existsSync(hostKilnPath('host2', probe))).toBe(false);
  });
});
