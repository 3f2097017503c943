/**
 * The KVM driver's private-VLAN ports (drivers/kvm/private-vlan.ts) without a host: the tap name
 * and the role kept in Kiln's domain metadata survive a define (build, parse back), metadata that
 * is not Kiln's shape is ignored, and the rules each role gets. That the rules isolate real guests
 * is test/integration/kvm-private-vlan.real.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { buildDomainXml, parseDomainXml } from '../../drivers/kvm/domain-xml.js';
import { applyPortCommands, peerScript, portName, portScript, readPrivateVlans } from '../../drivers/kvm/private-vlan.js';

const spec = { internalName: 'i-2-17-VM', displayName: 'web 1', uuid: '6f1c1a4e-5b1e-4c55-9f3b-0c8e2a7d1b11', cpuNumber: 1, cpuSpeedMhz: 1000, memoryMiB: 128, disks: [], nics: [] };

describe('KVM private-VLAN ports', () => {
  it('names the tap after the MAC and keeps the role in the domain metadata, read back after a define', () => {
    expect(portName('52:54:00:AB:cd:01')).toBe('kp525400abcd01');
    expect(() => portName('52:54:00')).toThrow(/not a MAC/);
    const port = { port: 'kp525400abcd01', primaryVlan: 300, secondaryVlan: 302, type: 'community' as const };
    const xml = buildDomainXml({
      spec, domainType: 'qemu', disks: [], vnc: false,
      nics: [
        { type: 'network', source: 'pv-302', macAddress: '52:54:00:ab:cd:01', model: 'virtio', privateVlan: port },
        { type: 'bridge', source: 'br0', macAddress: '52:54:00:ab:cd:02', model: 'virtio' },
      ],
    });
    expect(xml).toMatch(/<mac address="52:54:00:ab:cd:01"\/>\s*<source network="pv-302"\/>\s*<target dev="kp525400abcd01"\/>/);
    expect(xml.match(/<target dev="kp/g)).toHaveLength(1);
    const parsed = parseDomainXml(xml);
    expect(parsed.privateVlans).toEqual([port]);
    // libvirt gives the metadata back under its own prefix; only Kiln's namespace counts.
    const relabelled = xml.replace(/kiln:/g, 'k9:');
    expect(parseDomainXml(relabelled).privateVlans).toEqual([port]);
    expect(parseDomainXml(buildDomainXml({ spec, domainType: 'qemu', disks: [], vnc: false, nics: [] })).privateVlans).toEqual([]);
  });

  it('ignores metadata entries that are not a Kiln port (a name that is not kp+MAC, a VLAN out of range, an unknown type)', () => {
    const entry = (port: string, primary: string, secondary: string, type: string) => ({ '@_port': port, '@_primary': primary, '@_secondary': secondary, '@_type': type });
    expect(readPrivateVlans({ 'kiln:privateVlan': [
      entry('kp525400abcd01', '300', '301', 'isolated'),
      entry("kp'; reboot; '", '300', '301', 'isolated'),
      entry('kp525400abcd02', '300', '5000', 'isolated'),
      entry('kp525400abcd03', '300', '301', 'secret'),
    ] })).toEqual([{ port: 'kp525400abcd01', primaryVlan: 300, secondaryVlan: 301, type: 'isolated' }]);
  });

  it('gives an isolated port drops for isolated and community marks of its primary, a community port its own community first, a promiscuous port no drop', () => {
    const rules = (type: 'isolated' | 'community' | 'promiscuous', secondary: number) =>
      applyPortCommands({ port: 'kp525400abcd01', primaryVlan: 300, secondaryVlan: secondary, type }).map((argv) => argv.join(' '));
    expect(rules('isolated', 301)).toEqual([
      'ebtables -N KI-kp525400abcd01 -P RETURN',
      // A port sends with its own MAC only: other hosts know its role by that MAC.
      'ebtables -A KI-kp525400abcd01 -s ! 52:54:00:ab:cd:01 -j DROP',
      'ebtables -A KI-kp525400abcd01 -j mark --mark-set 0x112c12d --mark-target RETURN',
      'ebtables -N KO-kp525400abcd01 -P RETURN',
      'ebtables -A KO-kp525400abcd01 --mark 0x112c000/0x3fff000 -j DROP',
      'ebtables -A KO-kp525400abcd01 --mark 0x212c000/0x3fff000 -j DROP',
      'ebtables -I FORWARD 1 -i kp525400abcd01 -j KI-kp525400abcd01',
      'ebtables -A FORWARD -o kp525400abcd01 -j KO-kp525400abcd01',
    ]);
    expect(rules('community', 302).filter((r) => r.includes('KO-kp525400abcd01 --mark'))).toEqual([
      'ebtables -A KO-kp525400abcd01 --mark 0x212c12e -j RETURN',
      'ebtables -A KO-kp525400abcd01 --mark 0x112c000/0x3fff000 -j DROP',
      'ebtables -A KO-kp525400abcd01 --mark 0x212c000/0x3fff000 -j DROP',
    ]);
    expect(rules('promiscuous', 300).filter((r) => r.includes('--mark '))).toEqual([]);
    expect(rules('promiscuous', 300)[2]).toContain('--mark-set 0x312c12c');
    // Clearing first ignores what is not there; applying stops at the first failure.
    const line = portScript(['kp525400abcd01'], [{ port: 'kp525400abcd01', primaryVlan: 300, secondaryVlan: 301, type: 'isolated' }]);
    expect(line).toMatch(/^ebtables -D FORWARD -i kp525400abcd01 -j KI-kp525400abcd01 >\/dev\/null 2>&1; .*; true; ebtables -N KI-kp525400abcd01 -P RETURN && /);
    expect(portScript(['kp525400abcd01'])).toMatch(/; true$/);
  });

  it("marks frames from other hosts by their source MAC's role, in one chain per primary VLAN replaced in one transaction, and forgets a primary without ports", () => {
    const line = peerScript([
      { primaryVlan: 300, peers: [{ macAddress: '52:54:00:AB:CD:01', type: 'isolated', secondaryVlan: 301 }, { macAddress: '52:54:00:ab:cd:02', type: 'community', secondaryVlan: 302 }, { macAddress: '52:54:00:ab:cd:03', type: 'promiscuous', secondaryVlan: 300 }] },
      { primaryVlan: 400, peers: [] },
    ]);
    // The same marks as the ports' own (type, primary, secondary), for frames not from a Kiln port.
    expect(line).toContain([
      "printf %s '*filter",
      ':KM-300 RETURN',
      '-A KM-300 -s 52:54:00:ab:cd:01 -j mark --mark-set 0x112c12d --mark-target RETURN',
      '-A KM-300 -s 52:54:00:ab:cd:02 -j mark --mark-set 0x212c12e --mark-target RETURN',
      '-A KM-300 -s 52:54:00:ab:cd:03 -j mark --mark-set 0x312c12c --mark-target RETURN',
      'COMMIT',
      "' | ebtables-restore --noflush",
    ].join('\n'));
    expect(line).toContain("ebtables -L FORWARD | grep -qxF -- '-i ! kp+ -j KM-300' || ebtables -I FORWARD 1 -i '!' kp+ -j KM-300");
    expect(line).toContain("{ ebtables -D FORWARD -i '!' kp+ -j KM-400 >/dev/null 2>&1; ebtables -F KM-400 >/dev/null 2>&1; ebtables -X KM-400 >/dev/null 2>&1; true; }");
    // Nothing unchecked reaches the host's shell.
    expect(() => peerScript([{ primaryVlan: 300, peers: [{ macAddress: "52:54:00:ab:cd:01' -j ACCEPT", type: 'isolated', secondaryVlan: 301 }] }])).toThrow(/not a MAC/);
    expect(() => peerScript([{ primaryVlan: 5000, peers: [] }])).toThrow(/not a VLAN/);
    expect(() => peerScript([{ primaryVlan: 300, peers: [{ macAddress: '52:54:00:ab:cd:01', type: 'secret' as 'isolated', secondaryVlan: 301 }] }])).toThrow(/not a private-VLAN role/);
  });
});
