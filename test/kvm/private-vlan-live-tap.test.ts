/**
 * A domain imported onto a private VLAN while it runs keeps the tap libvirt gave it (libvirt cannot
 * rename a running tap), so its port's rules are keyed by that live name until it stops
 * (drivers/kvm/private-vlan.ts PrivateVlanPort.tap): the rules mark by the MAC of Kiln's port, the
 * live name is kept in Kiln's metadata and read back, clearing takes both names, the next start and
 * a migration's destination use Kiln's port, and the migration XML names Kiln's port on the NIC.
 * On real hosts: kvm-private-vlan-import-running.real.
 */
import { describe, expect, it } from 'vitest';
import { metadataWithPorts, migrationXmlOnPorts } from '../../drivers/kvm/nic-xml.js';
import { applyPortCommands, isTapName, portDevices, portScript, privateVlanMetadata, readPrivateVlans, withoutLiveTaps, type PrivateVlanPort } from '../../drivers/kvm/private-vlan.js';
import { buildXml } from '../../drivers/kvm/xml.js';

const live: PrivateVlanPort = { port: 'kp525400abcd01', primaryVlan: 300, secondaryVlan: 301, type: 'isolated', tap: 'vnet7' };

describe('a private-VLAN port on a live tap', () => {
  it("keys its rules by the live tap and marks by the port's MAC", () => {
    const rules = applyPortCommands(live).map((argv) => argv.join(' '));
    expect(rules).toContain('ebtables -N KI-vnet7 -P RETURN');
    expect(rules).toContain('ebtables -A KI-vnet7 -s ! 52:54:00:ab:cd:01 -j DROP');
    expect(rules).toContain('ebtables -I FORWARD 1 -i vnet7 -j KI-vnet7');
    expect(rules).toContain('ebtables -A FORWARD -o vnet7 -j KO-vnet7');
    expect(rules.join('\n')).not.toContain('kp525400abcd01');
    // Without a live tap: Kiln's port, as before.
    expect(applyPortCommands(withoutLiveTaps([live])[0]!).map((argv) => argv.join(' '))).toContain('ebtables -I FORWARD 1 -i kp525400abcd01 -j KI-kp525400abcd01');
  });

  it('clears both names, and refuses a name that is no tap', () => {
    expect(portDevices([live, { ...live, port: 'kp525400abcd02', tap: undefined }])).toEqual(['kp525400abcd01', 'vnet7', 'kp525400abcd02']);
    const line = portScript(portDevices([live]));
    expect(line).toContain("ebtables -D FORWARD -i vnet7 -j KI-vnet7");
    expect(line).toContain('ebtables -X KO-kp525400abcd01');
    for (const bad of ['kp+', 'a b', '-j', 'x'.repeat(16), '']) expect(isTapName(bad)).toBe(false);
    expect(() => applyPortCommands({ ...live, tap: 'vnet+' })).toThrow(/not a tap name/);
  });

  it("keeps the live tap in Kiln's metadata and reads it back; a bad one is dropped, the port kept", () => {
    expect(metadataWithPorts(undefined, [live])).toContain('tap="vnet7"');
    expect(metadataWithPorts(undefined, withoutLiveTaps([live]))).not.toContain('tap=');
    expect(readPrivateVlans(privateVlanMetadata([live]))).toEqual([live]);
    const bad = privateVlanMetadata([{ ...live, tap: 'vnet 7' }]);
    expect(buildXml(bad)).toContain('tap="vnet 7"');
    expect(readPrivateVlans(bad)).toEqual(withoutLiveTaps([live]));
    expect(withoutLiveTaps([live])).toEqual([{ port: 'kp525400abcd01', primaryVlan: 300, secondaryVlan: 301, type: 'isolated' }]);
  });

  it("names Kiln's port on the NIC in a live migration's XML (libvirt's --migratable leaves vnetN out), the other NICs untouched", () => {
    const xml = `<domain type='qemu'>
  <devices>
    <interface type='bridge'>
      <mac address='52:54:00:ab:cd:00'/>
      <source bridge='br0'/>
      <model type='virtio'/>
    </interface>
    <interface type='network'>
      <mac address='52:54:00:AB:CD:01'/>
      <source network='pv-iso'/>
      <model type='virtio'/>
      <address type='pci' domain='0x0000' bus='0x00' slot='0x03' function='0x0'/>
    </interface>
  </devices>
</domain>`;
    const out = migrationXmlOnPorts(xml, [live]);
    expect(out).toContain("<mac address='52:54:00:AB:CD:01'/><target dev='kp525400abcd01'/>");
    expect(out.match(/<target dev=/g)).toHaveLength(1);
    expect(migrationXmlOnPorts(out.replace("<target dev='kp525400abcd01'/>", "<target dev='admin0'/>"), [live])).toBe(out);
    // A port already on Kiln's name: nothing to change.
    expect(migrationXmlOnPorts(xml, withoutLiveTaps([live]))).toBe(xml);
    expect(() => migrationXmlOnPorts(xml, [{ ...live, port: 'kp525400abcd09' }])).toThrow(/no NIC with MAC 52:54:00:ab:cd:09/);
  });
});
