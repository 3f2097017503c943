/**
 * A KVM host cut off by its network, not stopped (issue 10, "Host cut off by its network"): the
 * host's link goes down while its qemu, libvirtd and sshd keep running (hosts.sh cut-link). Kiln
 * must mark the host Disconnected (or Alert/Down) within 30 s and run its HA VMs on another host
 * within 60 s (the second test), never on two: the cut-off host's isolation watchdog (armed by Kiln
 * with host1 and the bridge as the addresses to reach) powers the VM off there, and Kiln starts it
 * on host1 only once contact lost + the watchdog's timeout + a margin has passed; until then Kiln
 * shows it Running on the unreachable host, as CloudStack does. When the link comes back, the
 * shut-off copy's definition on host2 is removed.
 * virsh is polled on both hosts throughout (through the host's namespace, which the cut does not
 * affect), to see whether the VM ever runs on two hosts at once.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanUp, harness, kvmHostsOrSkip, kvmZone, onHost, type KvmZone } from '../helpers/kvm-zone.js';

const hosts = kvmHostsOrSkip();
let z: KvmZone;
let cut = false;

function hostState(name: string): string {
  return z.t.engine.db.prepare('SELECT state FROM hosts WHERE uuid=?').pluck().get(z.hostIds[name]) as string;
}

function vmRow(id: string) {
  return z.t.engine.db.prepare('SELECT v.internal_name, v.state, h.name AS host FROM vm_instances v LEFT JOIN hosts h ON h.id=v.host_id WHERE v.uuid=?').get(id) as { internal_name: string; state: string; host: string | null };
}

async function until(what: string, check: () => boolean, timeoutMs: number): Promise<number> {
  const start = Date.now();
  while (!check()) {
    if (Date.now() - start > timeoutMs) {
      const events = z.t.engine.db.prepare('SELECT type, description FROM events ORDER BY id DESC LIMIT 8').all();
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; recent events ${JSON.stringify(events)}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  return Date.now() - start;
}

/** Samples, every half second, where the domain runs according to each host's own virsh. */
class RunningOnPoller {
  readonly samples: { at: number; on: string[] }[] = [];
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly domain: string) {}

  start(): void {
    const tick = () => {
      const on = ['host1', 'host2'].filter((h) => onHost(h, 'virsh', 'list', '--name').split('\n').includes(this.domain));
      this.samples.push({ at: Date.now(), on });
      this.timer = setTimeout(tick, 500);
    };
    tick();
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
  }

  get onBoth(): number {
    return this.samples.filter((s) => s.on.length > 1).length;
  }
}

describe.skipIf(!hosts)('a KVM host cut off by its network (link down, processes alive)', () => {
  beforeAll(async () => {
    z = await kvmZone(hosts!, undefined, undefined, { sharedPool: true });
    await z.t.call('updateConfiguration', { name: 'ha.monitor.interval', value: '2' });
    z.t.engine.background.ha.start();
  });
  afterAll(async () => {
    if (cut) harness('restore-link', 'host2');
    if (z) {
      z.t.engine.background.ha.stop();
      await cleanUp(z.t); // each Running VM stopped forced first
    }
    await z?.t.close();
  }, 300_000);

  /** When the HA VM ran on host1, in ms after the cut (undefined: not within 60 s); set by the first test. */
  let movedAfterMs: number | undefined;

  it('marks the host Disconnected within 30 s, never runs its HA VM on two hosts, and after the link returns runs it once with the stale copy fenced and undefined', { timeout: 300_000 }, async () => {
    const job = await z.t.run('deployVirtualMachine', { zoneid: z.zoneid, templateid: z.templateid, serviceofferingid: z.tiny, networkids: z.network, name: 'kvm-cut-ha', hostid: z.hostIds['host2']! });
    expect(job['jobstatus'], JSON.stringify(job['jobresult'])).toBe(1);
    const id = (job['jobresult'] as { virtualmachine: { id: string } }).virtualmachine.id;
    const domain = vmRow(id).internal_name;
    const poller = new RunningOnPoller(domain);
    // Kiln arms host2's watchdog on contact: only then is a cut fenced.
    const host2Id = z.t.engine.db.prepare('SELECT id FROM hosts WHERE uuid=?').pluck().get(z.hostIds['host2']) as number;
    await until('host2 watchdog armed', () => z.t.engine.background.ha.fenceArmed(host2Id), 30_000);
    const host1 = hosts!.hosts.find((h) => h.name === 'host1')!.address;
    const figures: Record<string, unknown> = {};
    poller.start();
    try {
      harness('cut-link', 'host2');
      cut = true;
      const cutAt = Date.now();
      figures['cutAt'] = new Date(cutAt).toISOString();
      figures['markedAfterMs'] = await until('host2 to leave Up', () => hostState('host2') !== 'Up', 30_000);
      figures['markedAs'] = hostState('host2');
      figures['vmWhenMarked'] = vmRow(id);
      // It may still run there: Kiln must not claim Stopped (CloudStack keeps it Running, the host Alert/Disconnected).
      expect(vmRow(id).state, 'the VM on the unreachable host is shown Running').toBe('Running');
      expect(hostState('host2')).toMatch(/^(Disconnected|Alert|Down)$/);
      // Soft from here on, so that one run reports every figure of the partition and the return.
      // Judged by the next test, so that this one checks everything else in the same run.
      movedAfterMs = await until('the HA VM to run on host1', () => vmRow(id).state === 'Running' && vmRow(id).host === host1, Math.max(0, 60_000 - (Date.now() - cutAt))).then(
        () => Date.now() - cutAt,
        () => undefined,
      );
      figures['movedAfterMs'] = movedAfterMs;
      figures['fencedOnHost2'] = onHost('host2', 'sh', '-c', 'grep -h "powered off HA domain" /var/lib/libvirt/kiln-watchdog/log | tail -1 || true').trim();
      figures['duringCut'] = { kiln: vmRow(id), virsh: poller.samples.at(-1)?.on };

      harness('restore-link', 'host2');
      cut = false;
      const restoredAt = Date.now();
      figures['restoredAt'] = new Date(restoredAt).toISOString();
      await until('host2 to be Up again', () => hostState('host2') === 'Up', 60_000);
      // One definition per VM once the host is back: the copy on host2 is gone or shut off, unless host2 is where Kiln runs it.
      figures['settledAfterReturnMs'] = await until('one running copy, where Kiln says', () => {
        const row = vmRow(id);
        const on = ['host1', 'host2'].filter((h) => onHost(h, 'virsh', 'list', '--name').split('\n').includes(domain));
        const defined = ['host1', 'host2'].filter((h) => onHost(h, 'virsh', 'list', '--all', '--name').split('\n').includes(domain));
        const where = row.host === host1 ? 'host1' : row.host ? 'host2' : undefined;
        return row.state === 'Running' && on.length === 1 && on[0] === where && defined.length === 1;
      }, 60_000).catch((error: Error) => {
        expect.soft(error.message, 'after the return the VM runs once, where Kiln says, with no second definition').toBe('');
        return undefined;
      });
      figures['afterReturn'] = { kiln: vmRow(id), running: poller.samples.at(-1)?.on, defined: ['host1', 'host2'].filter((h) => onHost(h, 'virsh', 'list', '--all', '--name').split('\n').includes(domain)) };
      expect.soft(vmRow(id).state, 'the HA VM is Running after the partition').toBe('Running');
      const overlap = poller.samples.filter((s) => s.on.length > 1);
      figures['virshSamples'] = poller.samples.length;
      figures['samplesOnBothHosts'] = overlap.length;
      figures['restoredAfterCutMs'] = restoredAt - cutAt;
      const events = z.t.engine.db.prepare(`SELECT created, type, description FROM events WHERE resource_uuid=? OR type LIKE 'HOST%' ORDER BY id`).all(id) as { created: string; type: string; description: string }[];
      console.log(`link cut figures: ${JSON.stringify(figures)}\nevents:\n${events.map((e) => `  ${e.created} ${e.type}: ${e.description.slice(0, 200)}`).join('\n')}`);
      expect(overlap.length, 'virsh samples with the VM running on both hosts').toBe(0);
    } finally {
      poller.stop();
    }
  });

  it('runs the HA VM on the other host within 60 s of the cut, while the link is still down', () => {
    // Possible because the cut-off host fenced itself (its isolation watchdog); the first test
    // checked that the VM never ran on both hosts meanwhile.
    expect(movedAfterMs, 'ms from the cut until the HA VM ran on host1 (undefined: not within 60 s)').toBeLessThanOrEqual(60_000);
  });
});
