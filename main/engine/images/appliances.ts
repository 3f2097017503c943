/**
 * Appliance templates in the engine (R37–R38): templates whose driver deploys them as they are
 * described (ApplianceFacet, e.g. an OVA on VMware). The descriptor is read by the driver once,
 * when the download completes, and kept with the template (templates.deploy_as_is); the engine
 * publishes it as CloudStack does (deployasisdetails, listTemplateOvfProperties), checks a deploy's
 * option, properties and NIC networks against it, and hands the choices to define() in
 * VmSpec.appliance. Password property values are sealed with the master key in the database.
 * Nothing here knows a format or a hypervisor: the driver's facet says which templates these are.
 */
import { createReadStream } from 'node:fs';
import { checkApplianceValue, type ApplianceDeploy, type ApplianceDescriptor } from '../../../drivers/appliance.js';
import type { Engine } from '../engine.js';
import { ApiError } from '../registry/errors.js';
import type { MapEntry } from '../registry/params.js';
import type { NetworkRow, OfferingRow, TemplateRow, VmRow } from '../vm/rows.js';
import { hostImageName } from './image-store.js';

/** CloudStack's VmDetailConstants.DEPLOY_AS_IS_CONFIGURATION: the chosen deployment option, a VM detail. */
export const CONFIGURATION_DETAIL = 'configurationId';
const PROPERTIES_DETAIL = 'kiln.appliance.properties';
const NETWORKS_DETAIL = 'kiln.appliance.networks';

export function applianceOf(row: Pick<TemplateRow, 'deploy_as_is'>): ApplianceDescriptor | undefined {
  return row.deploy_as_is ? (JSON.parse(row.deploy_as_is) as ApplianceDescriptor) : undefined;
}

/** The descriptor of a downloaded template, as JSON for its row, when its driver deploys it as an appliance; null otherwise. */
export async function describeDownload(engine: Engine, row: Pick<TemplateRow, 'hypervisor' | 'format' | 'is_iso'>, file: string): Promise<string | null> {
  const facet = row.is_iso ? undefined : engine.hosts.knownDriver(row.hypervisor)?.appliances;
  if (!facet || !facet.formats.includes(row.format)) return null;
  try {
    return JSON.stringify(await facet.describe(file));
  } catch (error) {
    throw new Error(`the ${row.format} cannot be deployed: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
  }
}

/**
 * CloudStack's deploy-as-is details (DeployAsIsHelperImpl): property-KEY, network-NAME and
 * configuration-INDEX-ID hold their description as JSON, eula-INDEX-INFO the licence text.
 * Kiln's configuration entries carry the vCPUs and memory the option gives (cpuNumber, memory).
 */
export function deployAsIsDetails(d: ApplianceDescriptor): Record<string, string> {
  const out: Record<string, string> = {};
  for (const p of d.properties) {
    out[`property-${p.key}`] = JSON.stringify({
      key: p.key, type: p.declaredType, kind: p.type, value: p.value ?? '', qualifiers: p.qualifiers ?? '', userConfigurable: p.userConfigurable, label: p.label ?? '', description: p.description ?? '',
      password: p.password, index: p.index, category: p.category ?? '', minLength: p.minLength, maxLength: p.maxLength, choices: p.choices, min: p.min, max: p.max,
    });
  }
  for (const n of d.networks) out[`network-${n.name}`] = JSON.stringify({ name: n.name, networkDescription: n.description ?? '', nics: n.nics.map((c) => ({ instanceID: c.instanceId, elementName: c.name ?? '', resourceSubType: c.adapter ?? '', index: c.index })) });
  for (const o of d.options) out[`configuration-${o.index}-${o.id}`] = JSON.stringify({ id: o.id, label: o.label ?? o.id, description: o.description ?? '', index: o.index, default: o.default, cpuNumber: o.cpuNumber, memory: o.memoryMiB });
  for (const e of d.eulas) out[`eula-${e.index}-${e.info ?? 'License'}`] = e.license;
  return out;
}

/** The template response's deploy-as-is fields (spread into templateView). */
export function deployAsIsView(row: Pick<TemplateRow, 'deploy_as_is'>): Record<string, unknown> {
  const d = applianceOf(row);
  return d ? { deployasis: true, deployasisdetails: deployAsIsDetails(d) } : { deployasis: false };
}

/** listTemplateOvfProperties: CloudStack's TemplateOVFPropertyResponse per property. */
export function ovfPropertyResponses(d: ApplianceDescriptor): Record<string, unknown>[] {
  return d.properties.map((p) => ({
    key: p.key, type: p.declaredType, value: p.value ?? '', password: p.password, qualifiers: p.qualifiers ?? '', userconfigurable: p.userConfigurable,
    label: p.label ?? '', description: p.description ?? '', category: p.category ?? '', index: p.index,
  }));
}

export interface ApplianceChoices {
  resources: { cpuNumber: number; cpuSpeed: number; memory: number };
  /** One per appliance NIC, in NIC order: the VM's NICs. */
  networks: NetworkRow[];
  /** Writes the choices with the VM (in the deploy's transaction). */
  record(vmId: number): void;
}

/**
 * A deploy's choices for an appliance template, checked: the option (details configurationId,
 * else the default) must exist and the offering must meet its vCPUs and memory (R38); each
 * property must exist, be user-configurable and fit its type and qualifiers; each NIC gets a
 * network (nicnetworklist by the NIC's InstanceID, else networkids in NIC order, else the first).
 * Undefined for a template that is no appliance.
 */
export function applianceChoices(
  engine: Engine,
  template: TemplateRow,
  offering: OfferingRow,
  resources: { cpuNumber: number; cpuSpeed: number; memory: number },
  details: Record<string, string>,
  properties: Record<string, string>,
  nicNetworks: MapEntry[],
  networks: NetworkRow[],
  networkByUuid: (uuid: string) => NetworkRow,
): ApplianceChoices | undefined {
  const d = applianceOf(template);
  if (!d) {
    if (Object.keys(properties).length > 0) throw ApiError.param(`properties: template ${template.name} is not an appliance; it has no properties`);
    if (nicNetworks.length > 0) throw ApiError.param(`nicnetworklist: template ${template.name} is not an appliance; use networkids`);
    return undefined;
  }
  const wanted = details[CONFIGURATION_DETAIL];
  const option = wanted !== undefined ? d.options.find((o) => o.id === wanted) : d.options.find((o) => o.default);
  if (wanted !== undefined && !option) throw ApiError.param(`details[0].${CONFIGURATION_DETAIL}: template ${template.name} has the deployment options ${d.options.map((o) => o.id).join(', ') || '(none)'}, not ${JSON.stringify(wanted)}`);
  const cpuNumber = option?.cpuNumber ?? d.cpuNumber ?? resources.cpuNumber;
  const memory = option?.memoryMiB ?? d.memoryMiB ?? resources.memory;
  if (resources.cpuNumber < cpuNumber || resources.memory < memory) {
    throw ApiError.param(`serviceofferingid: offering ${offering.name} (${resources.cpuNumber} vCPU, ${resources.memory} MB) is smaller than ${option ? `deployment option ${option.id}` : `template ${template.name}`} needs (${cpuNumber} vCPU, ${memory} MB)`);
  }
  const values: Record<string, string> = {};
  for (const [key, value] of Object.entries(properties)) {
    const p = d.properties.find((q) => q.key === key);
    if (!p) throw ApiError.param(`properties: template ${template.name} has no property ${key}`);
    if (!p.userConfigurable) throw ApiError.param(`properties: property ${key} of template ${template.name} is not user-configurable`);
    values[key] = value;
  }
  for (const p of d.properties) {
    const value = values[p.key] ?? p.value;
    if (value === undefined || (value === '' && !p.minLength)) continue;
    const problem = checkApplianceValue(p, value);
    if (problem) throw ApiError.param(`properties: ${problem}`);
  }
  const nics = d.networks.flatMap((n) => n.nics.map((c) => ({ ...c, network: n.name }))).sort((a, b) => a.index - b.index);
  const chosen = new Map<string, NetworkRow>();
  for (const entry of nicNetworks) {
    const nic = nics.find((c) => c.instanceId === entry['nic']);
    if (!nic) throw ApiError.param(`nicnetworklist: template ${template.name} has no NIC ${JSON.stringify(entry['nic'] ?? '')}; its NICs are ${nics.map((c) => c.instanceId).join(', ')}`);
    if (!entry['network']) throw ApiError.param(`nicnetworklist: NIC ${nic.instanceId} needs a network`);
    chosen.set(nic.instanceId, networkByUuid(entry['network']));
  }
  const vmNetworks = nics.map((c, i) => chosen.get(c.instanceId) ?? networks[i] ?? networks[0]!);
  // vSphere maps networks per appliance network, not per NIC.
  const mapping: Record<string, string> = {};
  nics.forEach((c, i) => {
    const name = vmNetworks[i]!.name;
    if (mapping[c.network] !== undefined && mapping[c.network] !== name) throw ApiError.param(`nicnetworklist: the NICs on the appliance's network ${c.network} must share one network, not ${mapping[c.network]} and ${name}`);
    mapping[c.network] = name;
  });
  const sealed = Object.fromEntries(Object.entries(values).map(([k, v]) => [k, d.properties.find((p) => p.key === k)!.password ? engine.secrets.seal(v) : v]));
  return {
    resources: { cpuNumber, cpuSpeed: resources.cpuSpeed, memory },
    networks: vmNetworks.length > 0 ? vmNetworks : networks,
    record(vmId) {
      const insert = engine.db.prepare('INSERT INTO vm_details (vm_id, name, value, display) VALUES (?,?,?,0)');
      insert.run(vmId, PROPERTIES_DETAIL, JSON.stringify(sealed));
      insert.run(vmId, NETWORKS_DETAIL, JSON.stringify(mapping));
      if (option && wanted === undefined) engine.db.prepare('INSERT INTO vm_details (vm_id, name, value) VALUES (?,?,?)').run(vmId, CONFIGURATION_DETAIL, option.id);
    },
  };
}

/** VmSpec.appliance for a VM of an appliance template (properties unsealed, defaults filled in), or undefined. */
export function applianceSpec(engine: Engine, vm: Pick<VmRow, 'id'>, template: TemplateRow | undefined): ApplianceDeploy | undefined {
  const d = template && applianceOf(template);
  if (!template || !d || !template.store_path || !template.sha256) return undefined;
  const detail = (name: string) => (engine.db.prepare('SELECT value FROM vm_details WHERE vm_id=? AND name=?').get(vm.id, name) as { value: string } | undefined)?.value;
  const stored = JSON.parse(detail(PROPERTIES_DETAIL) ?? '{}') as Record<string, string>;
  const properties: Record<string, string> = {};
  for (const p of d.properties) {
    const value = stored[p.key] !== undefined ? (p.password ? engine.secrets.open(stored[p.key]!) : stored[p.key]!) : p.value;
    if (value !== undefined) properties[p.key] = value;
  }
  const path = template.store_path;
  return {
    image: { name: hostImageName(template), format: 'raw', sizeBytes: template.physical_size ?? 0, sha256: template.sha256, path, open: () => createReadStream(path) },
    option: detail(CONFIGURATION_DETAIL),
    properties,
    networks: JSON.parse(detail(NETWORKS_DETAIL) ?? '{}') as Record<string, string>,
  };
}
