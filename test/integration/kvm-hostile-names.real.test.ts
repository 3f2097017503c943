/**
 * Hostile display names on real KVM hosts with vm.instancename.flag=true (issue 10, item 11 and
 * "Hostile names on real KVM"): the display name becomes part of the internal name, which is the
 * libvirt domain name on the host. Whatever the engine does with such a name (refuse it with a 431
 * naming displayname, or sanitise it), the domain on the host has an RFC 1123 name and no shell on
 * either side ever runs what the name contains.
 */
import { existsSync, rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanUp, kvmHostsOrSkip, kvmZone, onHost, type KvmZone } from '../helpers/kvm-zone.js';

const hosts = kvmHostsOrSkip();
let z: KvmZone;
const CANARY = '/tmp/kiln-canary';
/** One DNS label: letters, digits and inner hyphens, at most 63 characters (R1). */
const RFC1123_LABEL = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;

const HOSTILE = [
  'has space',
  `x;$(touch ${CANARY})<b>`,
  "'$(id)'",
  `\`touch ${CANARY}\` && touch ${CANARY}`,
  '데모 서버 ✓ ünïcödé',
  '--help -rf',
  `${'long-'.repeat(30)}end`,
];

function canaryOnHost(name: string): boolean {
  return onHost(name, 'sh', '-c', `test -e ${CANARY} && echo PRESENT || echo absent`).includes('PRESENT');
}

describe.skipIf(!hosts)('hostile display names on real KVM with vm.instancename.flag=true', () => {
  beforeAll(async () => {
    rmSync(CANARY, { force: true });
    z = await kvmZone(hosts!, ['host1']);
    await z.t.call('updateConfiguration', { name: 'vm.instancename.flag', value: 'true' });
  });
  afterAll(async () => {
    // cleanUp stops each Running VM forced before its destroy (a booting guest would hold a graceful one for its ACPI answer).
    if (z) await cleanUp(z.t);
    await z?.t.close();
  }, 300_000);

  it.each(HOSTILE)('display name %j: refused with 431 naming displayname, or deployed under a safe domain name', { timeout: 120_000 }, async (displayname) => {
    const res = await z.t.call('deployVirtualMachine', {
      zoneid: z.zoneid, templateid: z.templateid, serviceofferingid: z.tiny, networkids: z.network, hostid: z.hostIds['host1']!, displayname,
    });
    if (res.status !== 200) {
      expect(res.status).toBe(431);
      expect(String(res.body['errortext'])).toMatch(/displayname/i);
    } else {
      const job = await z.t.engine.jobs.wait(String(res.body['jobid']));
      expect(job['jobstatus'], JSON.stringify(job['jobresult'])).toBe(1);
      const vm = (job['jobresult'] as { virtualmachine: { id: string; displayname: string; instancename: string; state: string } }).virtualmachine;
      // The user still sees the name they gave; only the internal name is made safe.
      expect(vm.displayname).toBe(displayname);
      expect(vm.state).toBe('Running');
      expect(vm.instancename).toMatch(RFC1123_LABEL);
      expect(onHost('host1', 'virsh', 'list', '--name').split('\n')).toContain(vm.instancename);
      await z.t.run('stopVirtualMachine', { id: vm.id, forced: 'true' });
      expect((await z.t.run('destroyVirtualMachine', { id: vm.id, expunge: 'true' }))['jobstatus']).toBe(1);
      expect(onHost('host1', 'virsh', 'list', '--all', '--name').split('\n')).not.toContain(vm.instancename);
    }
    // Every domain on the host has a safe name, and nothing ran the name's commands anywhere.
    for (const domain of onHost('host1', 'virsh', 'list', '--all', '--name').split('\n').filter(Boolean)) expect(domain).toMatch(RFC1123_LABEL);
    expect(existsSync(CANARY)).toBe(false);
    expect(canaryOnHost('host1')).toBe(false);
  });
});
