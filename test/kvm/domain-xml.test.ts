/**
 * Domain XML built from a VmSpec and parsed back, with hostile user text that must come back
 * verbatim and never change the document's structure; plus parsing of a real libvirt dumpxml.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { buildDomainXml, parseDomainXml, splitDocuments, targetName, type DomainXmlInput } from '../../drivers/kvm/domain-xml.js';
import { parseVolumeXml } from '../../drivers/kvm/resource-xml.js';
import { controllerOf, detailBus, keptTarget, targetIndex } from '../../drivers/kvm/disk-buses.js';
import { volumeXml } from '../../drivers/kvm/storage.js';
import { parseXml } from '../../drivers/kvm/xml.js';
import type { VmSpec } from '../../drivers/types.js';

const fixture = (name: string) => readFileSync(path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures', name), 'utf8');

const HOSTILE_NAMES = [
  `</name><devices><hostdev mode='subsystem'/></devices><name>`,
  `Kiln "test" <vm> & 'quotes' $(id) \`uname\``,
  ']]><!-- --><![CDATA[x]]>',
  '&amp; &lt; &#x41; &nbsp;',
  'line one\nline two\r\nthree\ttabbed',
  'ünïcödé ✓ 日本語 🚀',
  '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>&e;',
];

function spec(overrides: Partial<VmSpec> = {}): VmSpec {
  return {
    internalName: 'i-2-17-VM',
    displayName: 'web 1',
    uuid: '6f1c1a4e-5b1e-4c55-9f3b-0c8e2a7d1b11',
    cpuNumber: 2,
    cpuSpeedMhz: 2000,
    memoryMiB: 512,
    disks: [],
    nics: [],
    ...overrides,
  };
}

function input(overrides: Partial<DomainXmlInput> = {}): DomainXmlInput {
  return {
    spec: spec(),
    domainType: 'qemu',
    disks: [{ path: '/pool/root.qcow2', format: 'qcow2', bus: 'virtio' }],
    nics: [{ type: 'user', macAddress: '52:54:00:aa:bb:cc', model: 'virtio' }],
    vnc: true,
    ...overrides,
  };
}

/** Every element name in the document, to prove user text added none. */
function elementNames(xml: string): string[] {
  const names: string[] = [];
  const walk = (node: unknown, name: string) => {
    if (Array.isArray(node)) return node.forEach((n) => walk(n, name));
    names.push(name);
    if (node && typeof node === 'object') for (const [k, v] of Object.entries(node)) if (!k.startsWith('@_') && k !== '#text') walk(v, k);
  };
  walk(parseXml(xml), '#document');
  return names.sort();
}

describe('domain XML', () => {
  it('round-trips the essentials', () => {
    const xml = buildDomainXml(
      input({
        spec: spec({
          maxCpuNumber: 4,
          maxMemoryMiB: 1024,
          kernel: '/boot/vmlinuz',
          initrd: '/boot/initrd.img',
          kernelArgs: 'quiet hostname=web1',
          isoPath: '/isos/tools.iso',
        }),
        disks: [
          { path: '/pool/root.qcow2', format: 'qcow2', bus: 'virtio' },
          { path: '/pool/data.raw', format: 'raw', bus: 'virtio' },
          { path: '/pool/ide1.qcow2', format: 'qcow2', bus: 'ide' },
          { path: '/pool/ide2.qcow2', format: 'qcow2', bus: 'ide' },
          { path: '/pool/ide3.qcow2', format: 'qcow2', bus: 'ide' },
        ],
        nics: [
          { type: 'bridge', source: 'br0', macAddress: '52:54:00:00:00:01', model: 'virtio' },
          { type: 'network', source: 'default', macAddress: '52:54:00:00:00:02', model: 'e1000' },
          { type: 'user', macAddress: '52:54:00:00:00:03', model: 'virtio' },
        ],
        serialLog: '/var/log/libvirt/qemu/i-2-17-VM-serial.log',
      }),
    );
    expect(xml).toContain(`<domain type="qemu">`);
    const dom = parseDomainXml(xml);
    expect(dom).toMatchObject({
      type: 'qemu',
      name: 'i-2-17-VM',
      uuid: '6f1c1a4e-5b1e-4c55-9f3b-0c8e2a7d1b11',
      displayName: 'web 1',
      vcpusCurrent: 2,
      vcpusMax: 4,
      currentMemoryKiB: 512 * 1024,
      memoryKiB: 1024 * 1024,
      bootType: 'BIOS',
      kernel: '/boot/vmlinuz',
      initrd: '/boot/initrd.img',
      cmdline: 'console=ttyS0 quiet hostname=web1',
      graphics: [{ type: 'vnc', listen: '127.0.0.1' }],
    });
    expect(dom.id).toBeUndefined();
    expect(dom.disks.map((d) => [d.device, d.target, d.bus, d.path, d.format])).toEqual([
      ['disk', 'vda', 'virtio', '/pool/root.qcow2', 'qcow2'],
      ['disk', 'vdb', 'virtio', '/pool/data.raw', 'raw'],
      ['disk', 'hda', 'ide', '/pool/ide1.qcow2', 'qcow2'],
      ['disk', 'hdb', 'ide', '/pool/ide2.qcow2', 'qcow2'],
      // hdc is the CD-ROM's
      ['disk', 'hdd', 'ide', '/pool/ide3.qcow2', 'qcow2'],
      ['cdrom', 'hdc', 'ide', '/isos/tools.iso', 'raw'],
    ]);
    expect(dom.nics).toEqual([
      { type: 'bridge', source: 'br0', macAddress: '52:54:00:00:00:01', model: 'virtio', vlan: undefined, pciSlot: undefined },
      { type: 'network', source: 'default', macAddress: '52:54:00:00:00:02', model: 'e1000', vlan: undefined, pciSlot: undefined },
      { type: 'user', source: undefined, macAddress: '52:54:00:00:00:03', model: 'virtio', vlan: undefined, pciSlot: undefined },
    ]);
    const tree = parseXml(xml) as { domain: { devices: { serial: { log: { '@_file': string; '@_append': string } }[] }; features: Record<string, unknown> } };
    expect(tree.domain.devices.serial[0]?.log).toEqual({ '@_file': '/var/log/libvirt/qemu/i-2-17-VM-serial.log', '@_append': 'on' });
    expect(Object.keys(tree.domain.features)).toEqual(expect.arrayContaining(['acpi', 'apic']));
  });

  it('boots from disk (or CD first) without a kernel, and asks for EFI when UEFI', () => {
    const plain = parseXml(buildDomainXml(input())) as { domain: { os: { boot: { '@_dev': string }[]; kernel?: string } } };
    expect(plain.domain.os.boot.map((b) => b['@_dev'])).toEqual(['hd']);
    expect(plain.domain.os.kernel).toBeUndefined();
    const iso = parseXml(buildDomainXml(input({ spec: spec({ isoPath: '/x.iso' }) }))) as typeof plain;
    expect(iso.domain.os.boot.map((b) => b['@_dev'])).toEqual(['cdrom', 'hd']);
    const uefi = parseDomainXml(buildDomainXml(input({ spec: spec({ bootType: 'UEFI' }) })));
    expect(uefi.bootType).toBe('UEFI');
    expect(uefi.hasNvram).toBe(true);
    // No live-scaling room asked for: current == max, no current attribute.
    const fixed = buildDomainXml(input());
    expect(fixed).toMatch(/<vcpu placement="static">2<\/vcpu>/);
    expect(parseDomainXml(fixed).memoryKiB).toBe(512 * 1024);
  });

  it('writes VNC only when asked, on loopback', () => {
    expect(parseDomainXml(buildDomainXml(input({ vnc: false }))).graphics).toEqual([]);
    expect(parseDomainXml(buildDomainXml(input({ vnc: true }))).graphics).toEqual([{ type: 'vnc', port: -1, listen: '127.0.0.1' }]);
  });

  for (const hostile of HOSTILE_NAMES) {
    it(`escapes a hostile display name: ${JSON.stringify(hostile).slice(0, 40)}`, () => {
      const baseline = elementNames(buildDomainXml(input()));
      const xml = buildDomainXml(input({ spec: spec({ displayName: hostile, kernel: '/k', kernelArgs: hostile }), disks: [{ path: `/pool/${hostile.replace(/\//g, '_')}`, format: 'qcow2', bus: 'virtio' }] }));
      // Same elements as with a harmless name (plus the kernel boot ones): nothing injected.
      expect(elementNames(xml).filter((n) => !['kernel', 'cmdline'].includes(n))).toEqual(baseline.filter((n) => n !== 'boot'));
      const dom = parseDomainXml(xml);
      expect(dom.displayName).toBe(hostile);
      expect(dom.title).not.toMatch(/[\r\n]/);
      expect(dom.cmdline).toBe(`console=ttyS0 ${hostile}`.trim());
      expect(dom.disks[0]?.path).toBe(`/pool/${hostile.replace(/\//g, '_')}`);
      expect(xml).not.toContain('<hostdev');
      expect(xml).not.toContain('<!ENTITY');
    });
  }

  it('drops control characters XML cannot carry', () => {
    const dom = parseDomainXml(buildDomainXml(input({ spec: spec({ displayName: 'a\u0000b\u0007c\u001bd' }) })));
    expect(dom.displayName).toBe('abcd');
  });

  it('parses a live dumpxml from libvirt 9', () => {
    const dom = parseDomainXml(fixture('dumpxml-live.xml'));
    expect(dom).toMatchObject({
      type: 'qemu',
      name: 'kiln-fixture',
      uuid: 'ce29dc79-acf8-43d6-8349-bf104d12fd17',
      id: 15,
      displayName: `Kiln "test" <kiln-fixture> & 'quotes' $(id) \`uname\`\nsecond line`,
      title: `Kiln "test" <kiln-fixture> & 'quotes' $(id) \`uname\` second line`,
      vcpusCurrent: 1,
      vcpusMax: 2,
      memoryKiB: 262144,
      bootType: 'BIOS',
      hasNvram: false,
      graphics: [{ type: 'vnc', port: 5900, listen: '127.0.0.1' }],
    });
    expect(dom.disks).toEqual([
      { device: 'disk', type: 'file', path: '/tmp/kiln-kvm/storage/kiln-fixture-root.qcow2', format: 'qcow2', target: 'vda', bus: 'virtio', pciSlot: '0x04' },
      { device: 'cdrom', type: 'file', path: undefined, format: undefined, target: 'hdc', bus: 'ide', pciSlot: undefined, address: { controller: 0, bus: 1, unit: 0 } },
    ]);
    expect(dom.controllers).toEqual([{ type: 'usb', index: 0, model: 'piix3-uhci' }, { type: 'pci', index: 0, model: 'pci-root' }, { type: 'ide', index: 0, model: undefined }]);
    expect(dom.nics).toEqual([{ type: 'user', macAddress: '52:54:00:82:0d:a8', source: undefined, model: 'virtio', vlan: undefined, pciSlot: '0x03' }]);
  });

  it('writes volume XML with the name escaped (virsh vol-create-as does not escape it)', () => {
    const xml = volumeXml(`a<b>&'"c.qcow2`, 1024, { path: '/p/t&.qcow2', format: 'qcow2' });
    const volume = parseVolumeXml(xml);
    expect(volume).toMatchObject({ name: `a<b>&'"c.qcow2`, capacityBytes: 1024, format: 'qcow2', backingPath: '/p/t&.qcow2' });
  });

  it('names device targets like libvirt', () => {
    expect([0, 1, 25, 26, 27, 701, 702].map((i) => targetName('vd', i))).toEqual(['vda', 'vdb', 'vdz', 'vdaa', 'vdab', 'vdzz', 'vdaaa']);
  });

  it('keeps a disk\'s target and bus, and puts SCSI disks on a virtio-scsi controller', () => {
    const xml = buildDomainXml(input({
      disks: [
        { path: '/pool/root.qcow2', format: 'qcow2', bus: 'scsi', target: 'sdb' },
        { path: '/pool/data.qcow2', format: 'qcow2', bus: 'scsi' },
        { path: '/pool/ide.qcow2', format: 'qcow2', bus: 'ide', target: 'hdb' },
        { path: '/pool/ide2.qcow2', format: 'qcow2', bus: 'ide' },
      ],
    }));
    const dom = parseDomainXml(xml);
    // sdb is kept, the next SCSI disk takes sda; the IDE one without a target skips hdb (kept) and hdc (the CD-ROM).
    expect(dom.disks.map((d) => [d.target, d.bus, d.device])).toEqual([['sdb', 'scsi', 'disk'], ['sda', 'scsi', 'disk'], ['hdb', 'ide', 'disk'], ['hda', 'ide', 'disk'], ['hdc', 'ide', 'cdrom']]);
    expect(dom.controllers).toEqual([{ type: 'scsi', index: 0, model: 'virtio-scsi' }]);
    expect(parseDomainXml(buildDomainXml(input())).controllers).toEqual([]);
    // An imported IDE disk that keeps hdc: the ISO drive takes the first free IDE name instead.
    const onHdc = parseDomainXml(buildDomainXml(input({ disks: [{ path: '/pool/a.qcow2', format: 'qcow2', bus: 'ide', target: 'hda' }, { path: '/pool/c.qcow2', format: 'qcow2', bus: 'ide', target: 'hdc' }, { path: '/pool/x.qcow2', format: 'qcow2', bus: 'ide' }] })));
    expect(onHdc.disks.map((d) => [d.target, d.device])).toEqual([['hda', 'disk'], ['hdc', 'disk'], ['hdd', 'disk'], ['hdb', 'cdrom']]);
    // Two disks that would keep one target (a data disk moved from another imported VM): the second gets a free one.
    const twice = parseDomainXml(buildDomainXml(input({ disks: [{ path: '/pool/a.qcow2', format: 'qcow2', bus: 'sata', target: 'sdb' }, { path: '/pool/b.qcow2', format: 'qcow2', bus: 'sata', target: 'sdb' }] })));
    expect(twice.disks.filter((d) => d.device === 'disk').map((d) => d.target)).toEqual(['sdb', 'sda']);
  });

  it('reads bus, controller and unit as listUnmanagedInstances shows them', () => {
    expect(['vda', 'sdb', 'hdc', 'sdaa', 'eth0'].map(targetIndex)).toEqual([0, 1, 2, 26, undefined]);
    expect([keptTarget('sdb', 'sata'), keptTarget('sdb', 'virtio'), keptTarget(undefined, 'ide'), keptTarget('hdb', 'ide')]).toEqual(['sdb', undefined, undefined, 'hdb']);
    expect([detailBus({ rootDiskController: 'sata', dataDiskController: 'scsi' }, true), detailBus({ rootDiskController: 'sata', dataDiskController: 'scsi' }, false), detailBus({ rootDiskController: 'osdefault' }, true), detailBus(undefined, false)]).toEqual(['sata', 'scsi', undefined, undefined]);
    expect(() => detailBus({ rootDiskController: 'lsilogic' }, true)).toThrow('rootDiskController: "lsilogic" is not one of virtio, scsi, sata, ide on KVM');
    const lsi = parseDomainXml(`<domain><name>x</name><devices><disk type='file' device='disk'><source file='/a'/><target dev='sda' bus='scsi'/><address type='drive' controller='1' bus='0' target='0' unit='0'/></disk><controller type='scsi' index='0' model='virtio-scsi'/><controller type='scsi' index='1' model='lsilogic'/></devices></domain>`);
    expect(controllerOf(lsi.disks[0]!, lsi)).toBe('lsilogic');
    expect(controllerOf({ ...lsi.disks[0]!, address: { controller: 0 } }, lsi)).toBe('scsi');
    expect(controllerOf({ ...lsi.disks[0]!, bus: 'sata' }, lsi)).toBe('sata');
  });

  it('splits concatenated dumpxml output into documents', () => {
    const one = buildDomainXml(input());
    const two = buildDomainXml(input({ spec: spec({ internalName: 'other', displayName: '</domain><domain>' }) }));
    const docs = splitDocuments(`noise\n${one}\n${two}\ntrailer`, 'domain');
    expect(docs.map((d) => parseDomainXml(d).name)).toEqual(['i-2-17-VM', 'other']);
    expect(parseDomainXml(docs[1] ?? '').displayName).toBe('</domain><domain>');
  });
});
