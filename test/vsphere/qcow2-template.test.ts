/**
 * A QCOW2 template on vSphere (vcsim), through the engine: registerTemplate format=QCOW2
 * hypervisor=VMware is taken (the driver publishes QCOW2 among its templateformats), Kiln
 * downloads the image into its store, and the first deploy converts it while it uploads
 * (drivers/common/qcow2.ts): the flat VMDK on the datastore is the guest disk qemu-img
 * wrote the image from, byte for byte, at the image's virtual size, and the VM runs from it.
 * A compressed image is used, so the extent cannot be the file's bytes passed through.
 */
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { asArray, asNumber, asObject, asString, getProperties, retrieveInventory } from '../../drivers/vsphere/soap/index.js';
import { vcsimOrSkip } from '../helpers/vcsim.js';
import { datastoreGet, vmwareEngineSuite } from './vmware-zone.js';

const available = vcsimOrSkip();
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe.skipIf(!available)('a QCOW2 template on vSphere', () => {
  const dir = mkdtempSync(join(tmpdir(), 'kiln-vmw-qcow2-'));
  // 3 MiB of guest disk: random (incompressible) data, a hole, then a compressible run.
  const guest = Buffer.concat([randomBytes(1024 * 1024), Buffer.alloc(1024 * 1024), Buffer.alloc(1024 * 1024, 'kiln-qcow2;')]);
  writeFileSync(join(dir, 'guest.raw'), guest);
  execFileSync('qemu-img', ['convert', '-q', '-c', '-f', 'raw', '-O', 'qcow2', join(dir, 'guest.raw'), join(dir, 'guest.qcow2')]);
  const qcow2 = readFileSync(join(dir, 'guest.qcow2'));
  rmSync(dir, { recursive: true, force: true });
  const suite = vmwareEngineSuite(['-cluster', '1', '-host', '1', '-standalone-host', '0', '-vm', '0', '-ds', '1', '-task-time', '100ms'], { '/guest.qcow2': qcow2 });

  it('registers, downloads and deploys it: the datastore holds the guest disk qemu-img converted from, the VM runs on a disk of the virtual size', async () => {
    const { t, z, sim, admin, images } = suite;
    expect(qcow2.length).toBeLessThan(guest.length); // compressed, and the hole takes no room
    const caps = (await t.call('listHypervisorCapabilities', { hypervisor: 'VMware' })).body['hypervisorCapabilities'] as { templateformats?: string }[];
    expect(caps[0]?.templateformats).toBe('RAW,QCOW2,OVA,ISO');
    const ostypeid = ((await t.call('listOsTypes', {})).body['ostype'] as { id: string }[])[0]!.id;
    const reg = await t.call('registerTemplate', { name: 'vmw-qcow2', displaytext: 'QCOW2 on VMware', format: 'QCOW2', hypervisor: 'VMware', ostypeid, url: `${images.base}/guest.qcow2`, zoneid: z.zoneid });
    expect(reg.status, JSON.stringify(reg.body)).toBe(200);
    const templateid = (reg.body['template'] as { id: string }[])[0]!.id;
    let template: { isready: boolean; status: string; size?: number } | undefined;
    for (let i = 0; i < 400 && !template?.isready; i++) {
      template = ((await t.call('listTemplates', { templatefilter: 'all', id: templateid })).body['template'] as (typeof template & object)[])[0];
      if (!template?.isready) await new Promise((r) => setTimeout(r, 50));
    }
    expect(template).toMatchObject({ isready: true, size: guest.length });

    const res = await t.call('deployVirtualMachine', { zoneid: z.zoneid, templateid, serviceofferingid: z.offerings['Small Instance']!, networkids: z.networkid, name: 'vmw-from-qcow2' });
    const job = await t.engine.jobs.wait(res.body['jobid'] as string);
    expect(job['jobstatus'], JSON.stringify(job['jobresult'])).toBe(1);
    const vm = (job['jobresult'] as { virtualmachine: { state: string; instancename: string } }).virtualmachine;
    expect(vm.state).toBe('Running');

    // vCenter's template for it, and the flat extent it was made around: the guest's bytes, not the file's.
    const objs = await retrieveInventory(admin, [{ type: 'VirtualMachine', pathSet: ['name', 'config.template'] }]);
    const staged = objs.find((o) => o.props['config.template'] === true && asString(o.props['name'])!.startsWith('kiln-tmpl-'))!;
    expect(staged).toBeDefined();
    const flat = await datastoreGet(sim, `kiln-images/${asString(staged.props['name'])!.replace(/\.[A-Za-z0-9]+$/, '')}-flat.vmdk`, admin);
    expect(flat.length).toBe(guest.length);
    expect(sha256(flat)).toBe(sha256(guest));
    // The clone's disk has the template's virtual size.
    const clone = objs.find((o) => o.props['name'] === vm.instancename)!;
    const disks = asArray((await getProperties(admin, clone.obj, ['config.hardware.device']))['config.hardware.device']).map(asObject).filter((d) => d.$type === 'VirtualDisk');
    expect(disks.map((d) => asNumber(d['capacityInKB']))).toEqual([guest.length / 1024]);
  }, 60_000);
});
