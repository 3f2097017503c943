/**
 * P1 and P2, on the real KVM test hosts (test/kvm-hosts; skipped without hosts.json).
 *
 * P1: deploy-to-Running, stop and start through Kiln (the API, jobs, placement, events) against
 * the same work done with raw virsh commands over the same pooled SSH connection, in the same
 * run. The raw path clones the disk, defines the very XML Kiln produced, and starts it.
 * P2: 100 sequential host queries (virsh list) through the pooled connection against 100
 * `ssh host virsh …` processes.
 */
import { execFileSync } from 'node:child_process';
import type { KvmSession } from '../drivers/kvm/index.js';
import type { Virsh } from '../drivers/kvm/virsh.js';
import { kvmZone, cleanUp } from '../test/helpers/kvm-zone.js';
import { loadHosts } from '../test/kvm/real-hosts.js';
import { median, type BenchResult } from './stats.js';

const now = () => performance.now();

/** The session's own virsh runner: the pooled connection the raw baseline must share. */
function virshOf(session: KvmSession): Virsh {
  return (session as unknown as { virsh: Virsh }).virsh;
}

export async function benchKvm(): Promise<BenchResult[]> {
  const hosts = loadHosts();
  if (!hosts) {
    console.log('bench kvm: no /tmp/kiln-kvm/hosts.json (run test/kvm-hosts/hosts.sh setup); P1 and P2 skipped');
    return [];
  }
  const z = await kvmZone(hosts, ['host1']);
  const t = z.t;
  const hostId = (t.engine.db.prepare(`SELECT id FROM hosts WHERE hypervisor='KVM'`).get() as { id: number }).id;
  const session = (await t.engine.hosts.session(hostId)) as KvmSession;
  const virsh = virshOf(session);
  const rounds = 3;
  const kiln = { deploy: [] as number[], stop: [] as number[], start: [] as number[] };
  const raw = { deploy: [] as number[], stop: [] as number[], start: [] as number[] };
  try {
    for (let i = 0; i < rounds; i++) {
      // Kiln: the API path.
      let t0 = now();
      const job = await t.run('deployVirtualMachine', { zoneid: z.zoneid, templateid: z.templateid, serviceofferingid: z.tiny, networkids: z.network, name: `bench-${i}` });
      kiln.deploy.push(now() - t0);
      const vmId = (job['jobresult'] as { virtualmachine: { id: string } }).virtualmachine.id;
      t0 = now();
      await t.run('stopVirtualMachine', { id: vmId, forced: 'true' });
      kiln.stop.push(now() - t0);
      t0 = now();
      await t.run('startVirtualMachine', { id: vmId });
      kiln.start.push(now() - t0);
      const internal = (t.engine.db.prepare('SELECT internal_name FROM vm_instances WHERE uuid=?').get(vmId) as { internal_name: string }).internal_name;
      const xml = await virsh.run(['dumpxml', '--inactive', internal]);
      await t.run('destroyVirtualMachine', { id: vmId, expunge: 'true' });

      // Raw virsh over the same connection: the same disk clone, the same XML, the same power ops.
      const name = `raw-bench-${process.pid}-${i}`;
      const disk = `${name}.qcow2`;
      const rawXml = xml
        .replace(/<name>[^<]*<\/name>/, `<name>${name}</name>`)
        .replace(/<uuid>[^<]*<\/uuid>/, '')
        .replace(/(<source file=')[^']*\.qcow2(')/, `$1${hosts.storagePath}/${disk}$2`)
        .replace(/<mac address='[^']*'\/>/g, '');
      t0 = now();
      await virsh.run(['vol-create-as', hosts.poolName, disk, '64M', '--format', 'qcow2', '--backing-vol', hosts.templateImage, '--backing-vol-format', 'qcow2']);
      await virsh.run(['define', '--file', '/dev/stdin'], { stdin: rawXml });
      await virsh.run(['start', name]);
      raw.deploy.push(now() - t0);
      t0 = now();
      await virsh.run(['destroy', name]);
      raw.stop.push(now() - t0);
      t0 = now();
      await virsh.run(['start', name]);
      raw.start.push(now() - t0);
      await virsh.run(['destroy', name]);
      await virsh.run(['undefine', name]);
      await virsh.run(['vol-delete', '--pool', hosts.poolName, disk]);
    }

    // P2: 100 host queries, pooled vs one ssh process each.
    const h1 = hosts.hosts[0]!;
    let t0 = now();
    for (let i = 0; i < 100; i++) await virsh.run(['list', '--all', '--name']);
    const pooled = now() - t0;
    const sshArgs = ['-i', h1.privateKeyPath, '-o', 'BatchMode=yes', '-o', `UserKnownHostsFile=${(hosts as unknown as { knownHostsPath: string }).knownHostsPath}`, '-p', String(h1.port), `${h1.username}@${h1.address}`];
    t0 = now();
    for (let i = 0; i < 100; i++) execFileSync('ssh', [...sshArgs, 'virsh', '-c', 'qemu:///system', 'list', '--all', '--name'], { stdio: ['ignore', 'pipe', 'ignore'] });
    const processes = now() - t0;

    const p1 = (op: keyof typeof kiln, label: string): BenchResult => {
      const k = median(kiln[op]);
      const r = median(raw[op]);
      return { name: `P1 ${label} through Kiln`, value: k, unit: 'ms median', baseline: r, baselineName: `raw virsh on the same SSH connection`, goal: '≤ 1.2× raw virsh', met: k / r <= 1.2, note: `${rounds} rounds` };
    };
    return [
      p1('deploy', 'deploy to Running'),
      p1('stop', 'stop (forced)'),
      p1('start', 'start'),
      { name: 'P2 100 sequential host queries, pooled connection', value: pooled, unit: 'ms total', baseline: processes, baselineName: '100 ssh processes', goal: '≥ 5× faster than ssh processes', met: processes / pooled >= 5, note: `${(processes / pooled).toFixed(1)}× faster` },
    ];
  } finally {
    await cleanUp(t);
    await t.close();
  }
}
