/**
 * Deleting a template or ISO removes what Kiln staged in vCenter (the storage facet's
 * removeImage) on vcsim, through the engine's API: a forced deleteTemplate keeps the vSphere
 * template and its flat VMDK while a VM cloned from it exists, and the VM's expunge removes both;
 * deleteIso removes the ISO and its sidecar from the datastore. vCenter is asked directly: its
 * VirtualMachine inventory and the datastores' /folder file service.
 */
import https from 'node:https';
import { beforeAll, describe, expect, it } from 'vitest';
import { asString, retrieveInventory, type VimClient } from '../../drivers/vsphere/soap/index.js';
import type { TestEngine } from '../helpers/engine.js';
import { vcsimOrSkip, type Vcsim } from '../helpers/vcsim.js';
import { deleteIsoRemovesCopy, forcedDeleteKeepsCopyUntilExpunge, registerDownloaded, type CopyZone } from '../helpers/image-copies.js';
import { RAW_IMAGE, RAW_SHA256, vmwareEngineSuite, type VmwareEngineSuite, type VmwareZone } from './vmware-zone.js';

const available = vcsimOrSkip();
const DATASTORES = ['LocalDS_0', 'LocalDS_1'];

describe.skipIf(!available)('image copies in vCenter (vcsim)', () => {
  const suite = vmwareEngineSuite(['-cluster', '1', '-host', '2', '-standalone-host', '0', '-vm', '0', '-ds', '2', '-task-time', '100ms']);
  let sim: Vcsim;
  let admin: VimClient;
  let t: TestEngine;
  let z: VmwareZone;
  let copies: CopyZone;
  let images: VmwareEngineSuite['images'];

  /** The HTTP status of a datastore file over vcsim's /folder service. */
  const fileStatus = (ds: string, path: string) =>
    new Promise<number>((resolve, reject) => {
      const req = https.request({ method: 'HEAD', host: sim.info.host, port: sim.info.port, path: `/folder/${path}?dcPath=DC0&dsName=${ds}`, rejectUnauthorized: false, headers: { Cookie: `vmware_soap_session=${admin.transport.sessionCookie}` } }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      req.end();
    });
  const onSomeDatastore = async (paths: string[]) => {
    for (const ds of DATASTORES) for (const p of paths) if ((await fileStatus(ds, p)) === 200) return true;
    return false;
  };
  /** A staged template is a vSphere template of Kiln's name plus kiln-images/<base>(-flat).vmdk; a staged ISO is kiln-images/<name>. */
  const probe = async (name: string) => {
    if (name.endsWith('.iso')) return onSomeDatastore([`kiln-images/${name}`, `kiln-images/${name}.sha256`]);
    const vms = await retrieveInventory(admin, [{ type: 'VirtualMachine', pathSet: ['name', 'config.template'] }]);
    const template = vms.some((o) => asString(o.props['name']) === name && o.props['config.template'] === true);
    const base = name.replace(/\.img$/, '');
    return template || (await onSomeDatastore([`kiln-images/${base}.vmdk`, `kiln-images/${base}-flat.vmdk`]));
  };

  beforeAll(async () => {
    ({ sim, t, z, admin, images } = suite);
    copies = { t, zoneid: z.zoneid, serviceofferingid: z.offerings['Small Instance']!, networkid: z.networkid, probe };
  }, 60_000);

  it('publishes removeImage for the cluster\'s hosts', async () => {
    const hosts = (await t.ok('listHosts', { clusterid: z.clusterid }))['host'] as { capabilities: Record<string, unknown> }[];
    expect(hosts.map((h) => h.capabilities['removeImage'])).toEqual([true, true]);
  });

  it('a forced deleteTemplate keeps the vSphere template and its VMDK while its VM exists; the VM\'s expunge removes them', async () => {
    const id = await registerDownloaded(t, 'registerTemplate', {
      name: 'vmw-forced', format: 'RAW', hypervisor: 'VMware', zoneid: z.zoneid, url: images.url, checksum: `{SHA-256}${RAW_SHA256}`, size: String(RAW_IMAGE.length),
    });
    await forcedDeleteKeepsCopyUntilExpunge(copies, id, 'vmw-copy-user');
  }, 60_000);

  it('deleteIso removes the ISO and its sidecar from the datastore', async () => {
    const vm = ((await t.job('deployVirtualMachine', { zoneid: z.zoneid, templateid: z.templateid, serviceofferingid: copies.serviceofferingid, networkids: z.networkid, name: 'vmw-iso-user' }))['virtualmachine'] as { id: string }).id;
    const iso = await registerDownloaded(t, 'registerIso', { name: 'vmw-iso', zoneid: z.zoneid, url: images.isoUrl });
    await deleteIsoRemovesCopy(copies, iso, vm);
    await t.job('destroyVirtualMachine', { id: vm, expunge: 'true' });
  }, 60_000);
});
