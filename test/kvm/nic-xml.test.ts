/**
 * The <interface> moves an imported domain's NIC gets onto Kiln's private-VLAN port, and Kiln's
 * metadata element with the ports (drivers/kvm/nic-xml.ts): only where the NIC is plugged changes.
 */
import { describe, expect, it } from 'vitest';
import { findInterface, interfaceXml, metadataWithPorts, onPrivateVlanPort } from '../../drivers/kvm/nic-xml.js';
import { parseXml } from '../../drivers/kvm/xml.js';
import { readPrivateVlans } from '../../drivers/kvm/private-vlan.js';

const domain = `<domain type='qemu'><name>byhand</name><devices>
  <interface type='network'>
    <mac address='52:54:00:7E:00:01'/>
    <source network='default' portgroup='lab'/>
    <vlan><tag id='42'/></vlan>
    <model type='e1000'/>
    <boot order='2'/>
    <address type='pci' domain='0x0000' bus='0x00' slot='0x03' function='0x0'/>
  </interface>
  <interface type='user'><mac address='52:54:00:7e:00:02'/><model type='virtio'/></interface>
</devices></domain>`;

const port = { port: 'kp5254007e0001', primaryVlan: 300, secondaryVlan: 301, type: 'isolated' as const };
const nic = { type: 'bridge' as const, source: 'pvbr', macAddress: '52:54:00:7e:00:01', model: 'virtio', privateVlan: port };

describe("an imported domain's NIC moved onto Kiln's private-VLAN port", () => {
  it('changes its type, source and tap, drops its VLAN tag, and keeps its model, boot order and PCI address', () => {
    const kept = findInterface(domain, '52:54:00:7e:00:01');
    expect(kept).toBeDefined();
    const xml = interfaceXml(onPrivateVlanPort(kept!, nic)!);
    const moved = parseXml(xml)['interface'] as Record<string, unknown>;
    expect(moved['@_type']).toBe('bridge');
    expect(moved['source']).toEqual({ '@_bridge': 'pvbr' });
    expect(moved['target']).toEqual({ '@_dev': 'kp5254007e0001' });
    expect(moved['vlan']).toBeUndefined();
    expect(xml).toContain('<model type="e1000"');
    expect(xml).toContain('<boot order="2"');
    expect(xml).toContain('slot="0x03"');
    expect(xml).toContain('<mac address="52:54:00:7E:00:01"');
  });

  it('leaves a NIC that is on the port already alone, and finds no NIC of another MAC', () => {
    const on = `<domain><devices><interface type='bridge'><mac address='52:54:00:7e:00:01'/><source bridge='pvbr'/><target dev='kp5254007e0001'/></interface></devices></domain>`;
    expect(onPrivateVlanPort(findInterface(on, '52:54:00:7e:00:01')!, nic)).toBeUndefined();
    expect(findInterface(domain, '52:54:00:7e:00:09')).toBeUndefined();
  });

  it("lists exactly the ports in Kiln's metadata element, keeping the rest of it", () => {
    const current = '<vm>\n  <displayName>web &amp; db</displayName>\n  <privateVlan port="kp5254007e0009" primary="300" secondary="302" type="community"/>\n</vm>\n';
    const element = metadataWithPorts(current, [port]);
    const vm = parseXml(element)['vm'] as Record<string, unknown>;
    expect(vm['displayName']).toBe('web & db');
    expect(element).toContain('<displayName>web &amp; db</displayName>');
    expect(readPrivateVlans(vm)).toEqual([port]);
    expect(readPrivateVlans(parseXml(metadataWithPorts(undefined, [port]))['vm'] as Record<string, unknown>)).toEqual([port]);
    expect(readPrivateVlans(parseXml(metadataWithPorts(current, []))['vm'] as Record<string, unknown>)).toEqual([]);
  });
});
