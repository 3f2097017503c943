/**
 * A host's isolation watchdog outlives the Kiln that armed it (by design: closing or killing Kiln
 * fences nothing), so the shared harness hosts may carry one from an earlier test file: a killed
 * `kiln serve` (kill-rounds.ts) never disarms it. Such a watchdog, with that Kiln's peers and
 * timeout, powered off a later file's HA VM whenever that file cut the host off long enough, or
 * did not, as the earlier file's timing went (CI: kvm-destroy-cut-now found its Running VM 'shut
 * off' though nothing in that file had armed host2). kvmZone now starts its hosts unarmed, so a
 * file's own HA passes are the only ones that arm them (kvm-isolation-watchdog, kvm-link-cut).
 *
 * Here another Kiln's watchdog is left on host2 (armed by a bare session with host1 as its peer and
 * a 4 s timeout, then closed, as a killed process leaves it); a zone is built and an HA VM runs on
 * host2; host2 is cut off for three times that timeout with no HA pass of this Kiln. The VM still
 * runs there afterwards: nothing is armed to fence it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KvmDriver } from '../../drivers/kvm/index.js';
import { closeKvmZone, harness, kvmHostsOrSkip, kvmZone, onHost, type KvmZone } from '../helpers/kvm-zone.js';
import { connect } from '../kvm/real-hosts.js';

const hosts = kvmHostsOrSkip();
const LEFTOVER_AFTER_S = 4;
const DIR = '/var/lib/libvirt/kiln-watchdog';
let z: KvmZone | undefined;
let cut = false;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const watchdogPid = (host: string) => onHost(host, 'sh', '-c', `cat ${DIR}/pid 2>/dev/null || true`).trim();

describe.skipIf(!hosts || hosts.hosts.length < 2)('a KVM zone starts with its hosts unarmed, whatever an earlier Kiln left on them', () => {
  beforeAll(async () => {
    const other = await connect(hosts!, 1, { driver: new KvmDriver({ isolationAfterS: LEFTOVER_AFTER_S }) });
    try {
      const host1 = hosts!.hosts.find((h) => h.name === 'host1')!;
      await other.isolationFencing.arm([{ ref: 'host1', url: `ssh://${host1.address}:${host1.port}` }]);
    } finally {
      await other.close();
    }
    expect(watchdogPid('host2'), 'the other Kiln left its watchdog running on host2').not.toBe('');
    z = await kvmZone(hosts!, ['host1', 'host2']);
  }, 180_000);

  afterAll(async () => {
    if (cut) harness('restore-link', 'host2');
    await closeKvmZone(z);
  }, 300_000);

  it("an HA VM on host2 keeps running through a cut three times the leftover watchdog's timeout", { timeout: 180_000 }, async () => {
    expect(watchdogPid('host2'), 'no watchdog on host2 once the zone is built').toBe('');
    const job = await z!.t.job('deployVirtualMachine', { zoneid: z!.zoneid, templateid: z!.templateid, serviceofferingid: z!.tiny, networkids: z!.network, name: 'kzu-ha', hostid: z!.hostIds['host2']! });
    const id = (job['virtualmachine'] as { id: string; haenable: boolean }).id;
    expect((job['virtualmachine'] as { haenable: boolean }).haenable).toBe(true);
    const domain = z!.t.engine.db.prepare('SELECT internal_name FROM vm_instances WHERE uuid=?').pluck().get(id) as string;
    harness('cut-link', 'host2');
    cut = true;
    await sleep(3 * LEFTOVER_AFTER_S * 1000);
    const state = onHost('host2', 'virsh', 'domstate', domain).trim();
    harness('restore-link', 'host2');
    cut = false;
    expect(state).toBe('running');
  });
});
