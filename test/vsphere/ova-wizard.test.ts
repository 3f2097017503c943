/**
 * The contract between the engine's deploy-as-is details and the deploy wizard: what
 * listTemplates publishes for the test OVA (deployAsIsDetails of the driver's descriptor) reads
 * back in the renderer as the same options, properties, NICs and EULA; the wizard's checks give
 * the engine's words; and R38's filter keeps only the offerings that meet the chosen option.
 */
import { describe, expect, it } from 'vitest';
import { describeOva } from '../../drivers/vsphere/ova/index.js';
import { deployAsIsDetails } from '../../main/engine/images/appliances.js';
import { applianceOfTemplate, applianceProblems, chosenOption, offeringsForOption, type OfferingSize } from '../../renderer/src/api/appliance.js';
import { buildOva } from '../helpers/ova-fixture.js';

describe('deploy-as-is details, from the engine to the wizard', async () => {
  const descriptor = await describeOva(buildOva().path);
  const view = applianceOfTemplate({ id: 't', name: 'appliance', deployasis: true, deployasisdetails: deployAsIsDetails(descriptor) })!;

  it('reads back the options, properties, NICs and EULA the driver found', () => {
    expect(view.options.map((o) => [o.id, o.label, o.default, o.cpuNumber, o.memory])).toEqual(descriptor.options.map((o) => [o.id, o.label, o.default, o.cpuNumber, o.memoryMiB]));
    expect(view.properties.map((p) => [p.key, p.type, p.declaredType, p.password, p.userConfigurable, p.minLength, p.choices, p.min, p.max])).toEqual(
      descriptor.properties.map((p) => [p.key, p.type, p.declaredType, p.password, p.userConfigurable, p.minLength, p.choices, p.min, p.max]),
    );
    expect(view.nics.map((n) => [n.instanceID, n.elementName, n.network])).toEqual([['5', 'Network adapter 1', 'Management'], ['6', 'Network adapter 2', 'Data']]);
    expect(view.eulas).toEqual([{ info: 'End-user licence agreement', license: descriptor.eulas[0]!.license }]);
    expect(applianceOfTemplate({ id: 'x', name: 'plain', deployasis: false })).toBeUndefined();
  });

  it("checks the choices with the engine's words, and wants the EULA accepted", () => {
    expect(applianceProblems(view, {}, false)).toEqual(['Admin password (guestinfo.password): at least 8 characters', 'Accept the licence agreement to deploy this appliance.']);
    expect(applianceProblems(view, { 'guestinfo.password': 'correct-horse', 'guestinfo.workers': '256', 'guestinfo.role': 'switch' }, true)).toEqual([
      'Role (guestinfo.role): one of "router", "firewall"',
      'Worker threads (guestinfo.workers): at most 255',
    ]);
    expect(applianceProblems(view, { 'guestinfo.password': 'correct-horse' }, true)).toEqual([]);
  });

  it('R38: choosing an option keeps only the offerings that meet its vCPUs and memory', () => {
    const offerings = [
      { id: '1', name: 'tiny', cpunumber: 1, memory: 512 },
      { id: '2', name: 'small', cpunumber: 1, memory: 1024 },
      { id: '3', name: 'large', cpunumber: 2, memory: 2048 },
      { id: '4', name: 'wide', cpunumber: 4, memory: 1024 },
      { id: '5', name: 'custom to 2/4096', iscustomized: true, maxcpunumber: 2, maxmemory: 4096 },
      { id: '6', name: 'custom to 1/1024', iscustomized: true, maxcpunumber: 1, maxmemory: 1024 },
    ] as (OfferingSize & { id: string; name: string })[];
    const names = (option: string) => offeringsForOption(offerings, chosenOption(view, option)).map((o) => o.name);
    expect(names('')).toEqual(['small', 'large', 'wide', 'custom to 2/4096', 'custom to 1/1024']);
    expect(names('large')).toEqual(['large', 'custom to 2/4096']);
  });
});
