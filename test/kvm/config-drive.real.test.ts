/**
 * The config drive on a real KVM host (R62, R64): a VM on an L2 network gets its config-2 ISO
 * staged into the host's pool and defined as a second CD-ROM beside the (empty) ISO drive; the
 * host's copy has the bytes Kiln built; expunge removes it from the host.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configDriveName } from '../../main/engine/metadata/config-drive.js';
import { configDriveDir } from '../../main/engine/metadata/delivery.js';
import { cleanUp, kvmHostsOrSkip, kvmZone, onHost, type KvmZone } from '../helpers/kvm-zone.js';

const hosts = kvmHostsOrSkip();

describe.skipIf(!hosts)('config drive on a real KVM host', () => {
  let z: KvmZone;
  beforeAll(async () => {
    z = await kvmZone(hosts!, ['host1']);
  });
  afterAll(async () => {
    if (z) await cleanUp(z.t);
    await z?.t.close();
  });

  it('is staged into the pool, attached as a second CD-ROM, and removed at expunge', async () => {
    const job = await z.t.run('deployVirtualMachine', { zoneid: z.zoneid, templateid: z.templateid, serviceofferingid: z.tiny, networkids: z.network, name: 'cfg-drive', userdata: Buffer.from('#cloud-config\n').toString('base64') });
    expect(job['jobstatus'], JSON.stringify(job['jobresult'])).toBe(1);
    const vm = (job['jobresult'] as { virtualmachine: { id: string; instancename: string } }).virtualmachine;
    const internal = (z.t.engine.db.prepare('SELECT internal_name FROM vm_instances WHERE uuid=?').get(vm.id) as { internal_name: string }).internal_name;
    const name = configDriveName(vm.id);
    const xml = onHost('host1', 'virsh', 'dumpxml', internal);
    const cdroms = [...xml.matchAll(/<disk type='file' device='cdrom'>[\s\S]*?<\/disk>/g)].map((m) => m[0]);
    expect(cdroms).toHaveLength(2);
    expect(cdroms[0]).toContain("dev='hdc'");
    expect(cdroms[1]).toContain(`${hosts!.storagePath}/${name}`);
    expect(cdroms[1]).toContain("dev='hdd'");
    const local = createHash('sha256').update(readFileSync(join(configDriveDir(z.t.engine), name))).digest('hex');
    expect(onHost('host1', 'sha256sum', `${hosts!.storagePath}/${name}`).split(/\s+/)[0]).toBe(local);
    expect((await z.t.run('destroyVirtualMachine', { id: vm.id, expunge: 'true' }))['jobstatus']).toBe(1);
    expect(onHost('host1', 'sh', '-c', `test -e ${hosts!.storagePath}/${name} && echo present || echo gone`).trim()).toBe('gone');
  });
});
