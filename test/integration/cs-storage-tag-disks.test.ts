/**
 * Storage tags judge a made disk by the pool it is on, through Debian's `cloudstack` client
 * against `kiln serve` (its simulator zone): a VM of an ssd offering has its root disk on the Demo
 * Cluster's sim-primary, tagged ssd, and is stopped. A host of another cluster has an ssd pool of
 * its own but not the VM's disk: explainPlacement names the disk and its tag for it, and
 * startVirtualMachine there fails with 533 and the same reason, the VM still Stopped.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { csClient, csError } from '../helpers/cs-client.js';
import { startKiln, type KilnProcess } from '../helpers/server.js';

let kiln: KilnProcess;
let dataDir: string;
const cs = csClient(() => kiln);
const ok = async (args: string[]) => {
  const r = await cs(args);
  if (r.code !== 0) throw new Error(`${args[0]}: ${JSON.stringify(r.json)} ${r.stderr}`);
  return r.json;
};

describe('cs: storage tags of a made disk at placement', () => {
  let otherHost = '';
  let homeClusterName = '';
  let vm: { id: string; name: string };

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'kiln-cs-tagdisk-'));
    kiln = await startKiln({ dataDir, args: ['--no-ui'] });
    const home = ((await ok(['listHosts', 'name=sim-host-1']))['host'] as { id: string; zoneid: string; podid: string }[])[0]!;
    const cluster = ((await ok(['addCluster', `zoneid=${home.zoneid}`, `podid=${home.podid}`, 'clustername=Other Cluster', 'hypervisor=Simulator']))['cluster'] as { id: string }[] | { id: string });
    const clusterid = (Array.isArray(cluster) ? cluster[0]! : cluster).id;
    const added = (await ok(['addHost', `zoneid=${home.zoneid}`, `podid=${home.podid}`, `clusterid=${clusterid}`, 'hypervisor=Simulator', 'url=simulator://other-host?localpools=ssd-x&memory=65536', 'username=root', 'password=x']))['host'] as { id: string }[] | { id: string };
    otherHost = (Array.isArray(added) ? added[0]! : added).id;
    const pools = (await ok(['listStoragePools']))['storagepool'] as { id: string; name: string; clusterid: string }[];
    const homeCluster = ((await ok(['listHosts', 'name=sim-host-1']))['host'] as { clusterid: string; clustername: string }[])[0]!;
    homeClusterName = homeCluster.clustername;
    await ok(['updateStoragePool', `id=${pools.find((p) => p.name === 'sim-primary' && p.clusterid === homeCluster.clusterid)!.id}`, 'tags=ssd']);
    await ok(['updateStoragePool', `id=${pools.find((p) => p.name === 'ssd-x')!.id}`, 'tags=ssd']);
    const offering = (await ok(['createServiceOffering', 'name=ssd-root', 'displaytext=ssd-root', 'cpunumber=1', 'cpuspeed=500', 'memory=256', 'tags=ssd']))['serviceoffering'] as { id: string };
    const template = ((await ok(['listTemplates', 'templatefilter=featured']))['template'] as { id: string; name: string }[]).find((t) => t.name === 'Debian 12')!;
    vm = (await ok(['deployVirtualMachine', `zoneid=${home.zoneid}`, `templateid=${template.id}`, `serviceofferingid=${offering.id}`, `hostid=${home.id}`, 'name=tagged-vm']))['virtualmachine'] as { id: string; name: string };
    await ok(['stopVirtualMachine', `id=${vm.id}`]);
  }, 90_000);
  afterAll(async () => {
    await kiln?.stop();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  it('names the disk and its tag for the other cluster\'s host that has an ssd pool, and a start there fails with 533', async () => {
    const root = ((await ok(['listVolumes', `virtualmachineid=${vm.id}`, 'type=ROOT']))['volume'] as { name: string; storage: string }[])[0]!;
    expect(root.storage).toBe('sim-primary');
    const reason = `volume ${root.name} (service offering ssd-root, storage tag ssd) is on pool sim-primary of cluster ${homeClusterName}, which this host (cluster Other Cluster) does not reach (it reaches sim-primary, ssd-x has ssd)`;
    const hosts = ((await ok(['explainPlacement', `virtualmachineid=${vm.id}`]))['placement'] as { hosts: { hostName: string; suitable: boolean; reason: string }[] }).hosts;
    expect(hosts.find((h) => h.hostName === 'other-host')).toMatchObject({ suitable: false, reason });

    const refused = await cs(['startVirtualMachine', `id=${vm.id}`, `hostid=${otherHost}`]);
    expect(refused.code).not.toBe(0);
    // A failed job: cs prints its query's answer, whose jobresult holds the error.
    const error = ((refused.json['queryasyncjobresultresponse'] as { jobresult?: unknown } | undefined)?.jobresult ?? csError(refused)) as { errorcode: number; errortext: string };
    expect(error.errorcode).toBe(533);
    expect(error.errortext).toContain(`other-host: ${reason}`);
    const after = ((await ok(['listVirtualMachines', `id=${vm.id}`]))['virtualmachine'] as { state: string }[])[0]!;
    expect(after.state).toBe('Stopped');
  });
});
