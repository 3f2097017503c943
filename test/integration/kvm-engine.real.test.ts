/**
 * Kiln's engine on real KVM hosts (libvirt + qemu behind sshd, test/kvm-hosts): everything a
 * user does through the API must happen on the hypervisor.
 */
import { existsSync, rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConsoleTap } from '../kvm/real-hosts.js';
import { cleanUp, harness, kvmHostsOrSkip, kvmZone, onHost, type KvmZone } from '../helpers/kvm-zone.js';

const hosts = kvmHostsOrSkip();
let z: KvmZone;

async function deploy(params: Record<string, string> = {}) {
  const job = await z.t.run('deployVirtualMachine', { zoneid: z.zoneid, templateid: z.templateid, serviceofferingid: z.tiny, networkids: z.network, ...params });
  if (job['jobstatus'] !== 1) throw new Error(JSON.stringify(job['jobresult']));
  return (job['jobresult'] as { virtualmachine: Record<string, string> }).virtualmachine;
}

function row(id: string) {
  return z.t.engine.db.prepare('SELECT v.internal_name, v.state, h.name AS host FROM vm_instances v LEFT JOIN hosts h ON h.id=v.host_id WHERE v.uuid=?').get(id) as { internal_name: string; state: string; host: string | null };
}

async function consoleOf(id: string): Promise<ConsoleTap> {
  return new ConsoleTap(await z.t.engine.vms.openConsole(z.t.admin, id));
}

describe.skipIf(!hosts)('the engine on real KVM hosts', () => {
  beforeAll(async () => {
    z = await kvmZone(hosts!);
  });
  afterAll(async () => {
    if (z) await cleanUp(z.t);
    await z?.t.close();
  });

  it('adds hosts by trust on first use, with capacity from the host', async () => {
    const listed = (await z.t.call('listHosts', { zoneid: z.zoneid })).body['host'] as { name: string; state: string; hostkeyfingerprint: string; memorytotal: number; cpunumber: number }[];
    expect(listed.map((h) => h.state)).toEqual(['Up', 'Up']);
    for (const h of listed) {
      expect(h.hostkeyfingerprint).toMatch(/^SHA256:/);
      expect(h.cpunumber).toBeGreaterThan(0);
      expect(h.memorytotal).toBeGreaterThan(0);
    }
  });

  it('deploys until Running, shows the domain in virsh list, and gives a console with the banner and echo', async () => {
    const vm = await deploy({ name: 'kvm-first' });
    expect(vm['state']).toBe('Running');
    const { internal_name, host } = row(vm['id']!);
    expect(internal_name).toMatch(/^i-\d+-\d+-T[0-9a-z]+$/);
    expect(onHost(host!, 'virsh', 'list', '--name')).toContain(internal_name);
    const tap = await consoleOf(vm['id']!);
    await tap.waitFor(/KILN-GUEST-READY/);
    await tap.run('echo typed-$((6*7))', /typed-42/);
    tap.close();
  });
});
