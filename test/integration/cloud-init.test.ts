/**
 * Real cloud-init reads Kiln's metadata (R62, R64, issue 12): Debian's cloud-init 22.4 runs in a
 * network-namespace "guest" whose address is the VM's NIC address in Kiln (test/helpers/cloud-init-guest.ts)
 *  - with the CloudStack datasource against Kiln's metadata HTTP service, which listens on the
 *    guest's default gateway (how that datasource finds its server when there is no data-server
 *    name or DHCP lease), port 80 and the password server's 8080;
 *  - with the ConfigDrive datasource against the ISO Kiln built and attached at start.
 * Asserted as a user of the guest would see it: the hostname (R2's name), the key pair's public key
 * in the default user's authorized_keys, the runcmd marker from the user data, and after
 * resetSSHKeyForVirtualMachine and a restart, the new key. The VMs run on the simulator; the netns
 * and its throwaway root stand in for their guests.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { generateKeyPairSync } from 'node:crypto';
import { deployDemo, demoIds, testEngine, type TestEngine } from '../helpers/engine.js';
import { CloudInitGuest, cloudInitAvailable } from '../helpers/cloud-init-guest.js';
import { MetadataService } from '../../main/engine/metadata/metadata-service.js';
import { configDriveDir } from '../../main/engine/metadata/delivery.js';
import { configDriveName } from '../../main/engine/metadata/config-drive.js';

const missing = cloudInitAvailable();
if (missing && process.env['KILN_REQUIRE_REAL'] === '1') throw new Error(`real cloud-init is required (KILN_REQUIRE_REAL=1): ${missing}; scripts/test-env.sh installs it`);

const NET = '10.217.17';
/** The config-drive guest's own /24, so the two guests' veths never route the same prefix. */
const DRIVE_NET = '10.217.18';
const b64 = (s: string) => Buffer.from(s).toString('base64');
/** A fresh OpenSSH ed25519 public key line. */
function publicKey(comment: string): string {
  const der = generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'der' });
  const raw = der.subarray(der.length - 32);
  const blob = Buffer.concat([Buffer.from([0, 0, 0, 11]), Buffer.from('ssh-ed25519'), Buffer.from([0, 0, 0, 32]), raw]);
  return `ssh-ed25519 ${blob.toString('base64')} ${comment}`;
}
const userData = (marker: string) => `#cloud-config\nruncmd:\n  - [ sh, -c, 'echo "ran on $(hostname)" > /var/tmp/${marker}' ]\n`;

describe.skipIf(missing !== undefined)('real cloud-init reads Kiln', () => {
  let t: TestEngine;
  let service: MetadataService;
  const guests: CloudInitGuest[] = [];
  const key1 = publicKey('first@kiln');
  const key2 = publicKey('second@kiln');

  beforeAll(async () => {
    t = await testEngine();
    for (const [name, key] of [['ci-first', key1], ['ci-second', key2]]) expect((await t.call('registerSSHKeyPair', { name: name!, publickey: key! })).status).toBe(200);
  });
  afterAll(async () => {
    for (const g of guests) await g.destroy();
    await service?.close();
    await t?.close();
  });

  /** Stops the VM, gives it the second key pair (J's resetSSHKeyForVirtualMachine, a stopped VM only), starts it. */
  async function resetKeyAndRestart(vmId: string): Promise<void> {
    expect((await t.run('stopVirtualMachine', { id: vmId }))['jobstatus']).toBe(1);
    const reset = await t.run('resetSSHKeyForVirtualMachine', { id: vmId, keypair: 'ci-second' });
    expect(reset['jobstatus'], JSON.stringify(reset['jobresult'])).toBe(1);
    expect((await t.run('startVirtualMachine', { id: vmId }))['jobstatus']).toBe(1);
  }

  it('CloudStack datasource against the metadata HTTP service: hostname, key, runcmd; the new key after a reset and restart', async () => {
    const ids = demoIds(t.engine);
    const net = await t.call('createNetwork', { name: 'ci-shared', zoneid: ids.zoneid, guestiptype: 'Shared', gateway: `${NET}.1`, netmask: '255.255.255.0', startip: `${NET}.10`, endip: `${NET}.20` });
    expect(net.status).toBe(200);
    const vm = await deployDemo(t, { name: 'ci-web1', networkids: (net.body['network'] as { id: string }).id, keypair: 'ci-first', userdata: b64(userData('kiln-runcmd-marker')) });
    const ip = (vm['nic'] as unknown as { ipaddress: string }[])[0]!.ipaddress;
    service = new MetadataService(t.engine);
    const guest = await CloudInitGuest.create({ tag: `${process.pid % 10000}m`, guestIp: ip, gatewayIp: `${NET}.1`, datasources: ['CloudStack'] });
    guests.push(guest);
    await service.listen(`${NET}.1`);

    const boot1 = await guest.boot();
    const evidence = guest.logLines(/Found default route|Using metadata source|Crawl of metadata|datasource|Setting hostname|Writing to \/var\/tmp|authorized_keys/i);
    console.log(`[cloud-init CloudStack, boot 1] stages ${JSON.stringify(boot1.stages)} hostname=${boot1.hostname}\n${evidence.slice(0, 25).join('\n')}`);
    console.log(`[cloud-init CloudStack, boot 1] modules that failed (not asserted): ${guest.logLines(/\[WARNING\]: Running module .* failed/).join(' | ') || 'none'}`);
    expect(guest.file('var/lib/cloud/data/instance-id')?.trim()).toBe(vm['id']);
    expect(JSON.parse(guest.file('run/cloud-init/result.json') ?? guest.file('var/lib/cloud/data/result.json') ?? '{}')).toMatchObject({ v1: { datasource: expect.stringContaining('CloudStack') } });
    expect(boot1.hostname).toBe('ci-web1');
    expect(guest.file('etc/hostname')?.trim()).toBe('ci-web1');
    expect(guest.file('home/debian/.ssh/authorized_keys')).toContain(key1.split(' ')[1]);
    expect(guest.file('var/tmp/kiln-runcmd-marker')).toBe('ran on ci-web1\n');

    await resetKeyAndRestart(vm['id']!);
    const boot2 = await guest.boot();
    console.log(`[cloud-init CloudStack, boot 2 after resetSSHKeyForVirtualMachine] stages ${JSON.stringify(boot2.stages)}\nauthorized_keys:\n${guest.file('home/debian/.ssh/authorized_keys')}`);
    expect(guest.file('home/debian/.ssh/authorized_keys')).toContain(key2.split(' ')[1]);
  });

  it('ConfigDrive datasource against the config-2 ISO attached at start: hostname, key, runcmd; the new key after a reset and restart', async () => {
    const l2 = (t.engine.db.prepare(`SELECT uuid FROM networks WHERE name='Demo L2'`).get() as { uuid: string }).uuid;
    const vm = await deployDemo(t, { name: 'ci-db1', networkids: l2, keypair: 'ci-first', userdata: b64(userData('kiln-drive-marker')) });
    const iso = join(configDriveDir(t.engine), configDriveName(vm['id']!));
    // An L2 guest has no address Kiln knows; the namespace only gives cloud-init a network to ignore.
    const guest = await CloudInitGuest.create({ tag: `${process.pid % 10000}c`, guestIp: `${DRIVE_NET}.10`, gatewayIp: `${DRIVE_NET}.1`, datasources: ['ConfigDrive'] });
    guests.push(guest);
    console.log(`[config drive] files: ${guest.loadConfigDrive(iso).join(' ')}`);
    const boot1 = await guest.boot();
    console.log(`[cloud-init ConfigDrive, boot 1] stages ${JSON.stringify(boot1.stages)} hostname=${boot1.hostname}\n${guest.logLines(/config.drive|datasource|Setting hostname|authorized_keys/i).slice(0, 20).join('\n')}`);
    expect(guest.file('var/lib/cloud/data/instance-id')?.trim()).toBe(vm['id']);
    expect(boot1.hostname).toBe('ci-db1');
    expect(guest.file('home/debian/.ssh/authorized_keys')).toContain(key1.split(' ')[1]);
    expect(guest.file('var/tmp/kiln-drive-marker')).toBe('ran on ci-db1\n');

    await resetKeyAndRestart(vm['id']!);
    guest.loadConfigDrive(iso);
    const boot2 = await guest.boot();
    console.log(`[cloud-init ConfigDrive, boot 2 after resetSSHKeyForVirtualMachine] stages ${JSON.stringify(boot2.stages)}\nauthorized_keys:\n${guest.file('home/debian/.ssh/authorized_keys')}`);
    expect(guest.file('home/debian/.ssh/authorized_keys')).toContain(key2.split(' ')[1]);
  });
});
