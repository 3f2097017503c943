/**
 * The KVM host isolation watchdog (drivers/kvm/isolation-watchdog.ts) on the real hosts: Kiln
 * arms it with the host's peers on contact; a host cut off from every peer (hosts.sh cut-link:
 * link down, every process left running) powers off its HA-marked domains and only those, and a
 * host that merely loses Kiln (the engine's connections gone, the link up) powers off nothing.
 * Also here, as it needs the same two hosts: an expunge removes a stale definition on the other host.
 * The watchdog's timeout is shortened to 4 s here (KvmDriver isolationAfterS) to keep CI short.
 * The hosts' own virsh (through their namespace, which a cut does not affect) is the view.
 */
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanUp, harness, kvmHostsOrSkip, kvmZone, onHost, testKvmDriver, type KvmZone } from '../helpers/kvm-zone.js';

const hosts = kvmHostsOrSkip();
const AFTER_S = 4;
const DIR = '/var/lib/libvirt/kiln-watchdog';
let z: KvmZone;
let cut = false;
const ids: Record<string, string> = {};
const names: Record<string, string> = {};

/** The watchdog log's lines after the first SKIP (it keeps what earlier runs logged). */
const logLines = (host: string) => onHost(host, 'sh', '-c', `cat ${DIR}/log 2>/dev/null || true`).split('\n').filter(Boolean);
const running = (host: string) => onHost(host, 'virsh', 'list', '--name').split('\n').filter(Boolean);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.skipIf(!hosts)('KVM host isolation watchdog', () => {
  beforeAll(async () => {
    z = await kvmZone(hosts!, ['host1', 'host2'], testKvmDriver(hosts!, { isolationAfterS: AFTER_S }));
    const noHa = ((await z.t.call('createServiceOffering', { name: 'kvm-tiny-noha', cpunumber: '1', cpuspeed: '100', memory: '128', offerha: 'false' })).body['serviceoffering'] as { id: string }).id;
    for (const [key, offering, ha] of [['ha', z.tiny, 'true'], ['plain', noHa, 'false']] as const) {
      const job = await z.t.run('deployVirtualMachine', { zoneid: z.zoneid, templateid: z.templateid, serviceofferingid: offering, networkids: z.network, name: `kvm-wd-${key}`, hostid: z.hostIds['host2']!, haenable: ha });
      expect(job['jobstatus'], JSON.stringify(job['jobresult'])).toBe(1);
      ids[key] = (job['jobresult'] as { virtualmachine: { id: string } }).virtualmachine.id;
      names[key] = z.t.engine.db.prepare('SELECT internal_name FROM vm_instances WHERE uuid=?').pluck().get(ids[key]) as string;
    }
    // One contact arms the watchdog on both hosts, each with the other as its peer.
    await z.t.engine.background.ha.pass();
  }, 300_000);
  afterAll(async () => {
    if (cut) harness('restore-link', 'host2');
    if (z) {
      await cleanUp(z.t);
    }
    await z?.t.close();
  }, 300_000);

  it('runs on each host with the other host as its peer, and only HA domains carry the HA mark', () => {
    for (const host of ['host1', 'host2']) {
      const peerAddress = hosts!.hosts.find((h) => h.name !== host)!.address;
      expect(onHost(host, 'cat', `${DIR}/peers`).trim().split('\n')).toEqual([`${peerAddress} 22`, `${peerAddress.replace(/\.\d+$/, '.1')} 53`]);
      const pid = onHost(host, 'cat', `${DIR}/pid`).trim();
      expect(onHost(host, 'cat', `/proc/${pid}/cmdline`)).toContain('kiln-watchdog');
    }
    expect(onHost('host2', 'virsh', 'dumpxml', '--domain', names['ha']!)).toMatch(/highAvailability>true</);
    expect(onHost('host2', 'virsh', 'dumpxml', '--domain', names['plain']!)).not.toMatch(/highAvailability/);
  });

  it('arming again is idempotent: the same watchdog keeps running', async () => {
    const before = onHost('host2', 'cat', `${DIR}/pid`).trim();
    const session = await z.t.engine.hosts.session(z.t.engine.db.prepare('SELECT id FROM hosts WHERE uuid=?').pluck().get(z.hostIds['host2']) as number);
    await session.isolationFencing!.arm([{ ref: 'host1', url: `ssh://${hosts!.hosts.find((h) => h.name === 'host1')!.address}:22` }]);
    expect(onHost('host2', 'cat', `${DIR}/pid`).trim()).toBe(before);
  });

  it('expunge removes a stale definition of the VM on the other host, not only where it lived', { timeout: 120_000 }, async () => {
    const job = await z.t.run('deployVirtualMachine', { zoneid: z.zoneid, templateid: z.templateid, serviceofferingid: z.tiny, networkids: z.network, name: 'kvm-wd-expunge', hostid: z.hostIds['host1']!, startvm: 'false' });
    expect(job['jobstatus'], JSON.stringify(job['jobresult'])).toBe(1);
    const id = (job['jobresult'] as { virtualmachine: { id: string } }).virtualmachine.id;
    expect((await z.t.run('startVirtualMachine', { id, hostid: z.hostIds['host1']! }))['jobstatus']).toBe(1);
    expect((await z.t.run('stopVirtualMachine', { id, forced: 'true' }))['jobstatus']).toBe(1);
    const name = z.t.engine.db.prepare('SELECT internal_name FROM vm_instances WHERE uuid=?').pluck().get(id) as string;
    // The copy an HA restart leaves on the old host: the same definition, shut off, on host2.
    const xmlFile = join(hosts!.storagePath, `stale-${name}.xml`);
    writeFileSync(xmlFile, onHost('host1', 'virsh', 'dumpxml', '--inactive', '--domain', name));
    try {
      onHost('host2', 'virsh', 'define', '--file', xmlFile);
    } finally {
      rmSync(xmlFile, { force: true });
    }
    expect(onHost('host2', 'virsh', 'list', '--all', '--name')).toContain(name);
    expect((await z.t.run('destroyVirtualMachine', { id, expunge: 'true' }))['jobstatus']).toBe(1);
    for (const host of ['host1', 'host2']) expect(onHost(host, 'virsh', 'list', '--all', '--name').split('\n'), host).not.toContain(name);
  });

  it('powers off nothing when only Kiln goes away (its SSH connections closed, the link up)', { timeout: 60_000 }, async () => {
    const seen = logLines('host2').length;
    for (const id of Object.values(z.hostIds)) await z.t.engine.hosts.drop(z.t.engine.db.prepare('SELECT id FROM hosts WHERE uuid=?').pluck().get(id) as number);
    await sleep((AFTER_S + 4) * 1000);
    expect(running('host2')).toEqual(expect.arrayContaining([names['ha'], names['plain']]));
    expect(logLines('host2').slice(seen).join('\n')).not.toMatch(/isolated/);
  });

  it('powers off only the HA domain when the host is cut off from its peer and the bridge, and logs it; the other host, which still reaches the bridge, powers off nothing', { timeout: 90_000 }, async () => {
    const seen = { host1: logLines('host1').length, host2: logLines('host2').length };
    harness('cut-link', 'host2');
    cut = true;
    const cutAt = Date.now();
    while (running('host2').includes(names['ha']!) && Date.now() - cutAt < 30_000) await sleep(500);
    const fencedAfterMs = Date.now() - cutAt;
    const left = running('host2');
    harness('restore-link', 'host2');
    cut = false;
    console.log(`watchdog fenced the HA domain ${fencedAfterMs} ms after the cut (isolation after ${AFTER_S} s)`);
    expect(left).not.toContain(names['ha']);
    expect(left).toContain(names['plain']);
    const log = logLines('host2').slice(seen.host2).join('\n');
    expect(log).toContain(`powered off HA domain ${names['ha']} (host isolated)`);
    expect(log).not.toContain(`powered off HA domain ${names['plain']}`);
    expect(logLines('host1').slice(seen.host1).join('\n')).not.toMatch(/isolated/);
  });
});
