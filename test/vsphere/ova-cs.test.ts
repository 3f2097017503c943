/**
 * OVA appliances with Debian's `cloudstack` client (cs) against a real `kiln serve` and vcsim:
 * the vCenter cluster added, an OVA registered and downloaded, listTemplates' deploy-as-is
 * details and listTemplateOvfProperties as cs prints them, an offering below the chosen option
 * refused (431), and the option deployed with its properties and NIC networks: the VM Running in
 * vcsim with the option's vCPUs and memory.
 */
import { createReadStream } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MoRef, getProperties, type VimClient } from '../../drivers/vsphere/soap/index.js';
import { buildOva } from '../helpers/ova-fixture.js';
import { csArgs, csClient } from '../helpers/cs-client.js';
import { startKiln, type KilnProcess } from '../helpers/server.js';
import { Vcsim, vcsimOrSkip } from '../helpers/vcsim.js';

const available = vcsimOrSkip();

describe.skipIf(!available)('cs: OVA appliances against kiln serve on vcsim', () => {
  let sim: Vcsim;
  let admin: VimClient;
  let kiln: KilnProcess;
  let files: Server;
  const ids: Record<string, string> = {};

  /** One cs call: exit code and the JSON it printed (for an error, the error object). */
  const client = csClient(() => kiln);
  const cs = async (command: string, params: Record<string, string> = {}): Promise<{ code: number; json: Record<string, unknown> }> => {
    const r = await client(csArgs(command, params));
    return { code: r.code, json: r.code === 0 ? r.json : ((Object.values(r.json)[0] ?? r.json) as Record<string, unknown>) };
  };
  const idOf = async (command: string, params: Record<string, string>, key: string) => {
    const r = await cs(command, params);
    expect(r.code, JSON.stringify(r.json)).toBe(0);
    return (r.json[key] as { id: string }).id;
  };

  beforeAll(async () => {
    sim = Vcsim.start(['-cluster', '1', '-host', '1', '-vm', '0']);
    admin = await sim.connect();
    const ova = buildOva();
    files = createServer((req, res) => (req.url === '/appliance.ova' ? (res.writeHead(200), createReadStream(ova.path).pipe(res)) : res.writeHead(404).end()));
    await new Promise<void>((r) => files.listen(0, '127.0.0.1', r));
    kiln = await startKiln({ args: ['--no-ui'] });
    ids['zone'] = await idOf('createZone', { name: 'vSphere' }, 'zone');
    ids['pod'] = await idOf('createPod', { name: 'P', zoneid: ids['zone'] }, 'pod');
    await idOf('addCluster', {
      zoneid: ids['zone'], podid: ids['pod'], clustername: 'C0', hypervisor: 'VMware', url: `https://${sim.info.host}:${sim.info.port}/DC0/DC0_C0`,
      username: sim.info.username, password: sim.info.password, trustfingerprint: sim.info.thumbprint,
    }, 'cluster');
    ids['mgmt'] = await idOf('createNetwork', { name: 'VM Network', zoneid: ids['zone'] }, 'network');
    ids['data'] = await idOf('createNetwork', { name: 'DC0_DVPG0', zoneid: ids['zone'] }, 'network');
    ids['small'] = await idOf('createServiceOffering', { name: 'small', cpunumber: '1', cpuspeed: '500', memory: '1024' }, 'serviceoffering');
    ids['large'] = await idOf('createServiceOffering', { name: 'large', cpunumber: '2', cpuspeed: '500', memory: '2048' }, 'serviceoffering');
    const os = ((await cs('listOsTypes')).json['ostype'] as { id: string }[])[0]!.id;
    const reg = await cs('registerTemplate', { name: 'appliance', format: 'OVA', hypervisor: 'VMware', ostypeid: os, zoneid: ids['zone'], url: `http://127.0.0.1:${(files.address() as AddressInfo).port}/appliance.ova` });
    ids['template'] = ((reg.json['template'] as { id: string }[])[0]!).id;
    for (let i = 0; i < 100; i++) {
      const t = ((await cs('listTemplates', { templatefilter: 'all', id: ids['template'] })).json['template'] as { isready: boolean }[])[0]!;
      if (t.isready) break;
      await new Promise((r) => setTimeout(r, 200));
    }
  }, 90_000);
  afterAll(async () => {
    await kiln?.stop();
    await admin?.logout().catch(() => undefined);
    files?.close();
    sim?.stop();
  });

  it('listTemplates and listTemplateOvfProperties show the OVF; a too small offering is refused; the large option deploys with 2 vCPU / 2048 MB', async () => {
    const template = ((await cs('listTemplates', { templatefilter: 'executable', id: ids['template']! })).json['template'] as Record<string, unknown>[])[0]!;
    expect(template['deployasis']).toBe(true);
    expect(JSON.parse((template['deployasisdetails'] as Record<string, string>)['configuration-1-large']!)).toMatchObject({ id: 'large', cpuNumber: 2, memory: 2048 });
    const props = (await cs('listTemplateOvfProperties', { id: ids['template']! })).json['ovfproperty'] as { key: string; password: boolean }[];
    expect(props.filter((p) => p.password).map((p) => p.key)).toEqual(['guestinfo.password']);

    const base = {
      zoneid: ids['zone']!, templateid: ids['template']!, networkids: `${ids['mgmt']},${ids['data']}`, 'details[0].configurationId': 'large',
      'properties[0].key': 'guestinfo.password', 'properties[0].value': 'correct-horse',
      'nicnetworklist[0].nic': '5', 'nicnetworklist[0].network': ids['mgmt']!, 'nicnetworklist[1].nic': '6', 'nicnetworklist[1].network': ids['data']!,
    };
    const refused = await cs('deployVirtualMachine', { ...base, serviceofferingid: ids['small']!, name: 'too-small' });
    expect([refused.code, refused.json['errorcode'], String(refused.json['errortext'])]).toEqual([1, 431, expect.stringMatching(/^serviceofferingid: offering small \(1 vCPU, 1024 MB\) is smaller than deployment option large needs \(2 vCPU, 2048 MB\)/)]);

    const deployed = await cs('deployVirtualMachine', { ...base, serviceofferingid: ids['large']!, name: 'appliance-cs' });
    expect(deployed.code, JSON.stringify(deployed.json)).toBe(0);
    const vm = deployed.json['virtualmachine'] as { id: string; state: string; cpunumber: number; memory: number; hypervisor: string };
    expect([vm.state, vm.hypervisor, vm.cpunumber, vm.memory]).toEqual(['Running', 'VMware', 2, 2048]);
    const db = new Database(`${kiln.dataDir}/kiln.db`, { readonly: true });
    const ref = String(db.prepare('SELECT ref FROM vm_instances WHERE uuid=?').pluck().get(vm.id));
    db.close();
    const inVcsim = await getProperties(admin, new MoRef('VirtualMachine', ref), ['config.hardware.numCPU', 'config.hardware.memoryMB', 'runtime.powerState']);
    expect([inVcsim['config.hardware.numCPU'], inVcsim['config.hardware.memoryMB'], inVcsim['runtime.powerState']]).toEqual([2, 2048, 'poweredOn']);
    const destroyed = await cs('destroyVirtualMachine', { id: vm.id, expunge: 'true' });
    expect(destroyed.code, JSON.stringify(destroyed.json)).toBe(0);
  });
});
