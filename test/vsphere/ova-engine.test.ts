/**
 * OVA appliances through the engine's API on vcsim (R37–R38): registerTemplate format=OVA
 * downloads the OVA and reads its OVF; listTemplates returns CloudStack's deploy-as-is details
 * and listTemplateOvfProperties the properties; deployVirtualMachine refuses an offering below the
 * chosen option, an unknown option, property or NIC and a value its qualifiers refuse (431,
 * naming it, nothing written), and deploys each option with its own vCPUs and memory in vcsim,
 * the NICs on the networks chosen and a password property sealed in Kiln's database.
 */
import { createReadStream } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VsphereDriver } from '../../drivers/vsphere/index.js';
import { MoRef, asArray, asObject, getProperties, retrieveInventory, type VimClient } from '../../drivers/vsphere/soap/index.js';
import { buildOva, fixtureOvf } from '../helpers/ova-fixture.js';
import { testEngine, type TestEngine } from '../helpers/engine.js';
import { Vcsim, vcsimOrSkip } from '../helpers/vcsim.js';

const available = vcsimOrSkip();

describe.skipIf(!available)('OVA appliances through the engine on vcsim', () => {
  let sim: Vcsim;
  let admin: VimClient;
  let t: TestEngine;
  let server: Server;
  let base: string;
  const ids: Record<string, string> = {};
  const ovas = { good: buildOva(), broken: buildOva({ ovf: fixtureOvf().replace('</Envelope>', '') }) };
  const vmCount = () => t.engine.db.prepare(`SELECT COUNT(*) FROM vm_instances`).pluck().get() as number;

  beforeAll(async () => {
    sim = Vcsim.start(['-cluster', '1', '-host', '2', '-vm', '0']);
    admin = await sim.connect();
    server = createServer((req, res) => {
      const file = req.url === '/good.ova' ? ovas.good.path : req.url === '/broken.ova' ? ovas.broken.path : undefined;
      if (!file) return void res.writeHead(404).end();
      res.writeHead(200, { 'content-type': 'application/x-tar' });
      createReadStream(file).pipe(res);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    t = await testEngine({ drivers: [new VsphereDriver({ maxWaitSeconds: 2 })] });
    const id = async (cmd: string, params: Record<string, string>, key: string) => ((await t.call(cmd, params)).body[key] as { id: string }).id;
    ids['zone'] = await id('createZone', { name: 'VMware' }, 'zone');
    ids['pod'] = await id('createPod', { name: 'P', zoneid: ids['zone'] }, 'pod');
    const cluster = await t.call('addCluster', {
      zoneid: ids['zone'], podid: ids['pod'], clustername: 'C0', hypervisor: 'VMware', url: `https://${sim.info.host}:${sim.info.port}/DC0/DC0_C0`,
      username: sim.info.username, password: sim.info.password, trustfingerprint: sim.info.thumbprint,
    });
    expect(cluster.status).toBe(200);
    ids['mgmt'] = await id('createNetwork', { name: 'VM Network', zoneid: ids['zone'] }, 'network');
    ids['data'] = await id('createNetwork', { name: 'DC0_DVPG0', zoneid: ids['zone'] }, 'network');
    ids['tiny'] = await id('createServiceOffering', { name: 'tiny', cpunumber: '1', cpuspeed: '500', memory: '512' }, 'serviceoffering');
    ids['small'] = await id('createServiceOffering', { name: 'small', cpunumber: '1', cpuspeed: '500', memory: '1024' }, 'serviceoffering');
    ids['large'] = await id('createServiceOffering', { name: 'large', cpunumber: '2', cpuspeed: '500', memory: '2048' }, 'serviceoffering');
    const os = ((await t.call('listOsTypes')).body['ostype'] as { id: string }[])[0]!.id;
    for (const name of ['good', 'broken']) {
      const r = await t.call('registerTemplate', { name: `appliance-${name}`, format: 'OVA', hypervisor: 'VMware', ostypeid: os, zoneid: ids['zone'], url: `${base}/${name}.ova` });
      expect(r.status).toBe(200);
      ids[name] = ((r.body['template'] as { id: string }[])[0]!).id;
      const row = t.engine.db.prepare('SELECT id FROM templates WHERE uuid=?').get(ids[name]) as { id: number };
      await t.engine.images.wait(row.id);
    }
  }, 60_000);
  afterAll(async () => {
    await t?.close();
    await admin?.logout().catch(() => undefined);
    server?.close();
    sim?.stop();
  });

  it('listTemplates shows the OVF as deploy-as-is details; a malformed OVA fails its download with the reason', async () => {
    const list = (await t.call('listTemplates', { templatefilter: 'all', zoneid: ids['zone']! })).body['template'] as Record<string, unknown>[];
    const good = list.find((x) => x['id'] === ids['good'])!;
    expect(good).toMatchObject({ isready: true, deployasis: true, format: 'OVA' });
    const details = good['deployasisdetails'] as Record<string, string>;
    expect(Object.keys(details).sort()).toEqual([
      'configuration-0-small', 'configuration-1-large', 'eula-0-End-user licence agreement', 'network-Data', 'network-Management',
      'property-guestinfo.build', 'property-guestinfo.hostname', 'property-guestinfo.motd', 'property-guestinfo.password', 'property-guestinfo.role', 'property-guestinfo.ssh', 'property-guestinfo.workers',
    ]);
    expect(JSON.parse(details['configuration-1-large']!)).toMatchObject({ id: 'large', label: 'Large', cpuNumber: 2, memory: 2048, default: false });
    expect(JSON.parse(details['property-guestinfo.password']!)).toMatchObject({ password: true, minLength: 8, userConfigurable: true });
    expect(JSON.parse(details['network-Management']!)).toMatchObject({ name: 'Management', nics: [{ instanceID: '5', resourceSubType: 'VmxNet3' }] });
    expect(details['eula-0-End-user licence agreement']).toContain('No warranty');
    const broken = list.find((x) => x['id'] === ids['broken'])!;
    expect(broken).toMatchObject({ isready: false, deployasis: false });
    expect(String(broken['status'])).toMatch(/^Download Failed: the OVA cannot be deployed: the descriptor is not well-formed XML/);
    const props = (await t.call('listTemplateOvfProperties', { id: ids['good']! })).body['ovfproperty'] as Record<string, unknown>[];
    expect(props.find((p) => p['key'] === 'guestinfo.role')).toMatchObject({ type: 'string', value: 'router', qualifiers: 'ValueMap{"router","firewall"}', userconfigurable: true, password: false, label: 'Role' });
  });

  const vcsimVmCount = async () => (await retrieveInventory(admin, [{ type: 'VirtualMachine', pathSet: ['name'] }])).length;
  const deploy = (params: Record<string, string>) => t.call('deployVirtualMachine', { zoneid: ids['zone']!, templateid: ids['good']!, networkids: `${ids['mgmt']},${ids['data']}`, ...params });

  it('refuses what the appliance does not offer or allow, with a 431 naming it, and writes nothing', async () => {
    const before = vmCount();
    const cases: [Record<string, string>, RegExp][] = [
      [{ serviceofferingid: ids['small']!, 'details[0].configurationId': 'large' }, /^serviceofferingid: offering small \(1 vCPU, 1024 MB\) is smaller than deployment option large needs \(2 vCPU, 2048 MB\)/],
      [{ serviceofferingid: ids['tiny']! }, /^serviceofferingid: offering tiny .* deployment option small needs \(1 vCPU, 1024 MB\)/],
      [{ serviceofferingid: ids['large']!, 'details[0].configurationId': 'huge' }, /^details\[0\]\.configurationId: template appliance-good has the deployment options small, large, not "huge"/],
      [{ serviceofferingid: ids['small']!, 'properties[0].key': 'guestinfo.password', 'properties[0].value': 'short' }, /^properties: Admin password \(guestinfo\.password\): at least 8 characters/],
      [{ serviceofferingid: ids['small']!, 'properties[0].key': 'guestinfo.role', 'properties[0].value': 'switch' }, /^properties: Role \(guestinfo\.role\): one of "router", "firewall"/],
      [{ serviceofferingid: ids['small']!, 'properties[0].key': 'guestinfo.workers', 'properties[0].value': '300' }, /at most 255/],
      [{ serviceofferingid: ids['small']!, 'properties[0].key': 'guestinfo.build', 'properties[0].value': 'x' }, /^properties: property guestinfo\.build .* is not user-configurable/],
      [{ serviceofferingid: ids['small']!, 'properties[0].key': 'guestinfo.nope', 'properties[0].value': 'x' }, /^properties: template appliance-good has no property guestinfo\.nope/],
      [{ serviceofferingid: ids['small']!, 'nicnetworklist[0].nic': '9', 'nicnetworklist[0].network': ids['data']! }, /^nicnetworklist: template appliance-good has no NIC "9"; its NICs are 5, 6/],
    ];
    for (const [params, message] of cases) {
      const password: Record<string, string> = Object.values(params).includes('guestinfo.password') ? {} : { 'properties[1].key': 'guestinfo.password', 'properties[1].value': 'long-enough' };
      const r = await deploy({ ...password, ...params });
      expect([r.status, String(r.body['errortext'])], JSON.stringify(params)).toEqual([431, expect.stringMatching(message)]);
    }
    expect(vmCount()).toBe(before);
  });

  it('each option deploys with its own vCPUs and memory in vcsim, the NICs on the chosen networks, the password sealed', async () => {
    const motd = 'hello </value><x>&"';
    const vms: Record<string, { ref: string; id: string }> = {};
    for (const [option, offering] of [['small', 'small'], ['large', 'large']] as const) {
      const res = await deploy({
        name: `app-${option}`, serviceofferingid: ids[offering]!, 'details[0].configurationId': option,
        'properties[0].key': 'guestinfo.password', 'properties[0].value': 'correct-horse', 'properties[1].key': 'guestinfo.motd', 'properties[1].value': motd,
        'nicnetworklist[0].nic': '5', 'nicnetworklist[0].network': ids['mgmt']!, 'nicnetworklist[1].nic': '6', 'nicnetworklist[1].network': ids['data']!,
      });
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      const job = await t.engine.jobs.wait(String(res.body['jobid']));
      expect(job['jobstatus'], JSON.stringify(job)).toBe(1);
      const id = String(res.body['id']);
      const row = t.engine.db.prepare('SELECT id, ref, cpu_number, memory, state FROM vm_instances WHERE uuid=?').get(id) as { id: number; ref: string; cpu_number: number; memory: number; state: string };
      vms[option] = { ref: row.ref, id };
      expect(row.state).toBe('Running');
      const inVcsim = await getProperties(admin, new MoRef('VirtualMachine', row.ref), ['config.hardware.numCPU', 'config.hardware.memoryMB', 'config.extraConfig', 'config.hardware.device', 'runtime.powerState']);
      const want = option === 'small' ? [1, 1024] : [2, 2048];
      expect([inVcsim['config.hardware.numCPU'], inVcsim['config.hardware.memoryMB']]).toEqual(want);
      expect([row.cpu_number, row.memory]).toEqual(want);
      expect(inVcsim['runtime.powerState']).toBe('poweredOn');
      const extra = Object.fromEntries(asArray(inVcsim['config.extraConfig']).map(asObject).map((o) => [String(o['key']), String(o['value'])]));
      expect(extra).toMatchObject({ 'guestinfo.motd': motd, 'guestinfo.password': 'correct-horse', 'guestinfo.role': 'router', 'guestinfo.build': '2026.1' });
      const nics = asArray(inVcsim['config.hardware.device']).map(asObject).filter((d) => /Vmxnet3|E1000/.test(String(d.$type)));
      expect(nics.map((n) => n.$type)).toEqual(['VirtualVmxnet3', 'VirtualE1000']);
      // The password is sealed in Kiln's database; the VM lists its option as a detail.
      const stored = t.engine.db.prepare(`SELECT value FROM vm_details WHERE vm_id=? AND name='kiln.appliance.properties'`).pluck().get(row.id) as string;
      expect(stored).not.toContain('correct-horse');
      // Nor does the job record keep it (deployVirtualMachine's properties are sensitive).
      expect(t.engine.db.prepare('SELECT params FROM async_jobs WHERE uuid=?').pluck().get(String(res.body['jobid']))).not.toContain('correct-horse');
      expect(JSON.parse(stored)['guestinfo.password']).toMatch(/^v1:/);
      const listed = ((await t.call('listVirtualMachines', { id })).body['virtualmachine'] as { details?: Record<string, string>; nic: { networkname: string }[] }[])[0]!;
      expect(listed.details?.['configurationId']).toBe(option);
      expect(listed.nic.map((n) => n.networkname)).toEqual(['VM Network', 'DC0_DVPG0']);
    }
    // An import that fails in vCenter (a Kiln network vCenter does not have) settles: the VM in Error, nothing left in vcsim.
    const nowhere = ((await t.call('createNetwork', { name: 'Nowhere', zoneid: ids['zone']! })).body['network'] as { id: string }).id;
    const before = await vcsimVmCount();
    const failed = await deploy({
      name: 'app-nowhere', serviceofferingid: ids['small']!, 'properties[0].key': 'guestinfo.password', 'properties[0].value': 'correct-horse',
      'nicnetworklist[0].nic': '5', 'nicnetworklist[0].network': ids['mgmt']!, 'nicnetworklist[1].nic': '6', 'nicnetworklist[1].network': nowhere,
    });
    const failedJob = await t.engine.jobs.wait(String(failed.body['jobid']));
    expect(failedJob['jobstatus']).toBe(2);
    expect(JSON.stringify(failedJob['jobresult'])).toContain('no network named \\"Nowhere\\" in vCenter');
    expect(t.engine.db.prepare('SELECT state FROM vm_instances WHERE uuid=?').pluck().get(String(failed.body['id']))).toBe('Error');
    expect(await vcsimVmCount()).toBe(before);
    for (const vm of Object.values(vms)) {
      const job = await t.engine.jobs.wait(String((await t.call('destroyVirtualMachine', { id: vm.id, expunge: 'true' })).body['jobid']));
      expect(job['jobstatus'], JSON.stringify(job)).toBe(1);
    }
  });
});
