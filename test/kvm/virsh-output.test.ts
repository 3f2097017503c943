/**
 * Parsers for what virsh prints (captured from libvirt 9.0 / QEMU 7.2 on the test hosts), the
 * other libvirt XML documents, and the mapping of virsh errors onto driver categories.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { splitSections } from '../../drivers/kvm/inventory.js';
import { parseCapabilitiesXml, parseNetworkXml, parsePciDeviceXml, parsePoolXml, parseSnapshotXml, parseVolumeXml } from '../../drivers/kvm/resource-xml.js';
import {
  parseDomblkinfoAll,
  parseDomstate,
  parseEventLine,
  parseFreecellTotal,
  parseList,
  parseNodeinfo,
  parseNodememstats,
  parseSnapshotListParent,
  parseSnapshotTree,
  parseVersion,
  parseVncDisplay,
  powerEventOf,
} from '../../drivers/kvm/virsh-output.js';
import { virshError } from '../../drivers/kvm/virsh.js';

const fixture = (name: string) => readFileSync(path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures', name), 'utf8');

describe('host facts', () => {
  it('reads nodeinfo', () => {
    const out = `CPU model:           x86_64
CPU(s):              2
CPU frequency:       2596 MHz
CPU socket(s):       1
Core(s) per socket:  2
Thread(s) per core:  1
NUMA cell(s):        1
Memory size:         4679884 KiB

`;
    expect(parseNodeinfo(out)).toEqual({ cpuModel: 'x86_64', cpus: 2, mhz: 2596, sockets: 1, coresPerSocket: 2, threadsPerCore: 1, numaCells: 1, memoryKiB: 4679884 });
  });

  it('reads nodememstats and freecell', () => {
    expect(parseNodememstats('total  :             24684084 KiB\nfree   :             24255344 KiB\nbuffers:                 3880 KiB\ncached :               171752 KiB\n')).toEqual({
      totalKiB: 24684084,
      freeKiB: 24255344,
      buffersKiB: 3880,
      cachedKiB: 171752,
    });
    expect(parseFreecellTotal('    0:    4251196 KiB\n--------------------\nTotal:    4251196 KiB\n')).toBe(4251196);
  });

  it('reads version --daemon', () => {
    const out = 'Compiled against library: libvirt 9.0.0\nUsing library: libvirt 9.0.0\nUsing API: QEMU 9.0.0\nRunning hypervisor: QEMU 7.2.22\nRunning against daemon: 9.0.0\n';
    expect(parseVersion(out)).toBe('QEMU 7.2.22, libvirt 9.0.0');
  });

  it('reads capabilities', () => {
    expect(parseCapabilitiesXml(fixture('capabilities.xml'))).toEqual({
      hostUuid: '2619dba5-738c-4a5e-b34f-2bdf21f96be8',
      cpuModel: expect.any(String),
      sockets: 1,
      cores: 2,
      threads: 1,
      domainTypes: ['qemu', 'kvm'],
    });
  });

  it('reads pools, volumes, networks and PCI devices', () => {
    expect(parsePoolXml(fixture('pool.xml'))).toMatchObject({ name: 'kiln', type: 'dir', path: '/tmp/kiln-kvm/storage' });
    expect(parsePoolXml(fixture('pool.xml')).capacityBytes).toBeGreaterThan(0);
    const volume = `<volume type='file'>
  <name>x.qcow2</name>
  <key>/tmp/kiln-kvm/storage/x.qcow2</key>
  <capacity unit='bytes'>67108864</capacity>
  <allocation unit='bytes'>200704</allocation>
  <target>
    <path>/tmp/kiln-kvm/storage/x.qcow2</path>
    <format type='qcow2'/>
  </target>
  <backingStore>
    <path>/tmp/kiln-kvm/storage/kiln-template.qcow2</path>
    <format type='qcow2'/>
  </backingStore>
</volume>`;
    expect(parseVolumeXml(volume)).toEqual({ name: 'x.qcow2', path: '/tmp/kiln-kvm/storage/x.qcow2', format: 'qcow2', capacityBytes: 67108864, backingPath: '/tmp/kiln-kvm/storage/kiln-template.qcow2' });
    expect(parseNetworkXml(`<network><name>isolated</name><bridge name='virbr-iso' stp='off'/></network>`)).toEqual({ name: 'isolated', bridge: 'virbr-iso', forward: undefined });
    expect(parsePciDeviceXml(fixture('nodedev-pci.xml'))).toEqual({ address: '0000:00:01.0', vendor: 'Red Hat, Inc.', product: 'Virtio 1.0 memory balloon', className: '0xffff00' });
    expect(parsePciDeviceXml('<device><name>net_lo</name><capability type="net"/></device>')).toBeUndefined();
  });
});

describe('domains', () => {
  it('reads the list --all table, names with spaces included', () => {
    const out = ` Id   Name                 State
-------------------------------------
 15   kx-fx-7828702f8      running
 3    web server 1         paused
 -    kx-probe             shut off
 -    in shutdown running  in shutdown

`;
    expect(parseList(out)).toEqual([
      { id: 15, name: 'kx-fx-7828702f8', state: 'running' },
      { id: 3, name: 'web server 1', state: 'paused' },
      { id: undefined, name: 'kx-probe', state: 'shut off' },
      { id: undefined, name: 'in shutdown running', state: 'in shutdown' },
    ]);
  });

  it('reads domstate with and without a reason', () => {
    expect(parseDomstate('shut off (crashed)\n\n')).toEqual({ state: 'Stopped', raw: 'shut off', reason: 'crashed' });
    expect(parseDomstate('running (booted)\n')).toEqual({ state: 'Running', raw: 'running', reason: 'booted' });
    expect(parseDomstate('paused\n').state).toBe('Paused');
    expect(parseDomstate('in shutdown\n').state).toBe('Running');
    expect(parseDomstate('crashed\n').state).toBe('Crashed');
    expect(parseDomstate('pmsuspended\n').state).toBe('Paused');
  });

  it('reads vncdisplay and domblkinfo --all', () => {
    expect(parseVncDisplay('127.0.0.1:0\n\n')).toEqual({ host: '127.0.0.1', port: 5900 });
    expect(parseVncDisplay(':3\n')).toEqual({ host: '127.0.0.1', port: 5903 });
    expect(parseVncDisplay('0.0.0.0:1\n')).toEqual({ host: '127.0.0.1', port: 5901 });
    expect(parseVncDisplay('[::1]:2\n')).toEqual({ host: '::1', port: 5902 });
    expect(parseVncDisplay('\n')).toBeUndefined();
    const blk = ` Target   Capacity   Allocation   Physical
---------------------------------------------
 vda      67108864   136335360    136511630
 hdc      -          -            -
`;
    expect([...parseDomblkinfoAll(blk)]).toEqual([['vda', 67108864]]);
  });
});

describe('snapshots', () => {
  it('reads snapshot-list --parent, names with spaces included', () => {
    const out = ` Name    Creation Time               State     Parent
-------------------------------------------------------
 a b     2026-11-23 21:11:49 +0000   running   
 child   2026-11-23 21:11:49 +0000   running   a b
 off     2026-11-23 21:12:01 +0000   shutoff   child

`;
    expect(parseSnapshotListParent(out)).toEqual([
      { name: 'a b', creationTime: '2026-11-23 21:11:49 +0000', state: 'running', parent: undefined },
      { name: 'child', creationTime: '2026-11-23 21:11:49 +0000', state: 'running', parent: 'a b' },
      { name: 'off', creationTime: '2026-11-23 21:12:01 +0000', state: 'shutoff', parent: 'child' },
    ]);
  });

  it('reads snapshot-list --tree', () => {
    const out = `s1
  |
  +- s2
  |   |
  |   +- s3
  |       |
  |       +- s4
  |
  +- s5
    
other root
  |
  +- leaf
`;
    expect(Object.fromEntries(parseSnapshotTree(out))).toEqual({ s1: undefined, s2: 's1', s3: 's2', s4: 's3', s5: 's1', 'other root': undefined, leaf: 'other root' });
  });

  it('reads snapshot-dumpxml', () => {
    expect(parseSnapshotXml(fixture('snapshot-child.xml'))).toEqual({
      name: 'child',
      description: undefined,
      state: 'running',
      parent: 'a b',
      createdAt: new Date(1795468309 * 1000).toISOString(),
      memory: 'internal',
    });
    const root = `<domainsnapshot><name>base</name><description>first &lt;one&gt; &amp; "q"</description><state>shutoff</state><creationTime>1700000000</creationTime><memory snapshot='no'/></domainsnapshot>`;
    expect(parseSnapshotXml(root)).toMatchObject({ name: 'base', description: 'first <one> & "q"', parent: undefined, state: 'shutoff', memory: 'no' });
  });
});

describe('events', () => {
  it('parses lifecycle event lines', () => {
    expect(parseEventLine("event 'lifecycle' for domain 'kx-probe': Stopped Shutdown")).toEqual({ domain: 'kx-probe', event: 'Stopped', detail: 'Shutdown' });
    expect(parseEventLine("event 'lifecycle' for domain 'it's: odd': Started Booted\r")).toEqual({ domain: "it's: odd", event: 'Started', detail: 'Booted' });
    expect(parseEventLine("2024-05-01 10:00:00.123+0000: event 'lifecycle' for domain 'x': Shutdown Finished after guest request")).toEqual({
      domain: 'x',
      event: 'Shutdown',
      detail: 'Finished after guest request',
    });
    expect(parseEventLine("event 'reboot' for domain 'x'")).toBeUndefined();
    expect(parseEventLine('events received: 3')).toBeUndefined();
  });

  it('maps lifecycle events onto power events', () => {
    const power = (line: string) => {
      const parsed = parseEventLine(line);
      return parsed ? powerEventOf(parsed) : undefined;
    };
    const d = (rest: string) => `event 'lifecycle' for domain 'vm': ${rest}`;
    expect(power(d('Stopped Shutdown'))).toEqual({ kind: 'power', name: 'vm', state: 'Stopped', reason: 'shutdown' });
    expect(power(d('Stopped Destroyed'))).toEqual({ kind: 'power', name: 'vm', state: 'Stopped', reason: 'destroyed' });
    expect(power(d('Stopped Crashed'))).toEqual({ kind: 'power', name: 'vm', state: 'Stopped', reason: 'crashed' });
    // What libvirt says when qemu is killed under it.
    expect(power(d('Stopped Failed'))).toEqual({ kind: 'power', name: 'vm', state: 'Stopped', reason: 'crashed' });
    expect(power(d('Stopped Migrated'))).toEqual({ kind: 'power', name: 'vm', state: 'Stopped', reason: 'migrated' });
    expect(power(d('Started Booted'))).toEqual({ kind: 'power', name: 'vm', state: 'Running', reason: 'started' });
    expect(power(d('Started Migrated'))).toEqual({ kind: 'power', name: 'vm', state: 'Running', reason: 'migrated' });
    expect(power(d('Suspended Paused'))).toEqual({ kind: 'power', name: 'vm', state: 'Paused', reason: 'paused' });
    expect(power(d('Suspended Migrated'))).toBeUndefined();
    expect(power(d('Resumed Unpaused'))).toEqual({ kind: 'power', name: 'vm', state: 'Running', reason: 'resumed' });
    expect(power(d('Crashed Panicked'))).toEqual({ kind: 'power', name: 'vm', state: 'Crashed', reason: 'crashed' });
    expect(power(d('Defined Added'))).toBeUndefined();
    expect(power(d('Undefined Removed'))).toBeUndefined();
    expect(power(d('Shutdown Finished after guest request'))).toBeUndefined();
  });
});

describe('errors', () => {
  it("keeps virsh's message and categorises it", () => {
    const cases: [string, string, string][] = [
      ["error: failed to get domain 'nope'\n", 'not-found', "error: failed to get domain 'nope'"],
      ["error: failed to get vol '-nope'\nerror: Storage volume not found: no storage vol with matching path '-nope'\n", 'not-found', "error: failed to get vol '-nope' error: Storage volume not found: no storage vol with matching path '-nope'"],
      ["error: Domain snapshot not found: no domain snapshot with matching name 's2'\n", 'not-found', "error: Domain snapshot not found: no domain snapshot with matching name 's2'"],
      ['error: Failed to start domain \'x\'\nerror: Requested operation is not valid: domain is already running\n', 'invalid', "error: Failed to start domain 'x' error: Requested operation is not valid: domain is already running"],
      ['error: invalid argument: requested vcpus is greater than max allowable vcpus for the live domain: 5 > 2\n', 'invalid', 'error: invalid argument: requested vcpus is greater than max allowable vcpus for the live domain: 5 > 2'],
      ['error: \nOperation not supported: live snapshot creation is supported only during full system snapshots\n', 'unsupported', 'Operation not supported: live snapshot creation is supported only during full system snapshots'],
      ['error: unsupported configuration: revert to external snapshot not supported yet\n', 'unsupported', 'error: unsupported configuration: revert to external snapshot not supported yet'],
      ['error: Timed out during operation: vcpu unplug request timed out. Unplug result must be manually inspected in the domain\n', 'timeout', 'error: Timed out during operation: vcpu unplug request timed out. Unplug result must be manually inspected in the domain'],
      ['error: failed to connect to the hypervisor\nerror: Failed to connect socket to \'/var/run/libvirt/libvirt-sock\': No such file or directory\n', 'unreachable', "error: failed to connect to the hypervisor error: Failed to connect socket to '/var/run/libvirt/libvirt-sock': No such file or directory"],
      ['error: operation failed: migration out job: unexpectedly failed\n', 'failed', 'error: operation failed: migration out job: unexpectedly failed'],
    ];
    for (const [stderr, category, message] of cases) {
      const error = virshError(stderr, 'fallback');
      expect([error.category, error.message]).toEqual([category, message]);
    }
  });

  it('ignores noise the login shell prints before virsh speaks', () => {
    const stderr = "rm: cannot remove '/root/.pyenv/shims/tmp.x': No such file or directory\npyenv: cannot rehash: /root/.pyenv/shims isn't writable\nerror: The disk device 'hdc' doesn't have media\n";
    expect(virshError(stderr, 'x').message).toBe("error: The disk device 'hdc' doesn't have media");
    expect(virshError('', 'virsh start failed with exit status 1').message).toBe('virsh start failed with exit status 1');
  });
});

describe('batched script output', () => {
  it('splits sections by a random marker that document text cannot fake', () => {
    const nonce = 'abc123';
    const out = `@@abc123 state u1\nrunning (booted)\n\n@@abc123 xml u1\n<domain><description>\n@@other xml fake\n</description></domain>\n@@abc123 blk u1\n vda 1 2 3\n`;
    expect(splitSections(out, nonce)).toEqual([
      { tag: 'state', key: 'u1', body: 'running (booted)\n' },
      { tag: 'xml', key: 'u1', body: '<domain><description>\n@@other xml fake\n</description></domain>' },
      { tag: 'blk', key: 'u1', body: ' vda 1 2 3\n' },
    ]);
  });
});
