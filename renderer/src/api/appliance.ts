/**
 * An appliance template (an OVA) as listTemplates publishes it: CloudStack's deploy-as-is details
 * (configuration-I-ID, property-KEY, network-NAME as JSON, eula-I-INFO as the licence text) read
 * back into options, properties, networks with their NICs and EULAs; and the deploy wizard's
 * checks of the choices, with the engine's own value rule (drivers/appliance-values.ts).
 */
// (.js: this file is also compiled with the engine's tests, under Node's module resolution.)
import { checkApplianceValue, type ApplianceProperty } from '../../../drivers/appliance-values.js';

/** What R38's filter reads of an offering (listServiceOfferings). */
export interface OfferingSize {
  cpunumber?: number;
  memory?: number;
  iscustomized?: boolean;
  maxcpunumber?: number;
  maxmemory?: number;
}

export interface ApplianceOptionView {
  id: string;
  label: string;
  description: string;
  default: boolean;
  index: number;
  cpuNumber?: number;
  memory?: number;
}

export interface ApplianceNicView {
  instanceID: string;
  elementName: string;
  resourceSubType: string;
  index: number;
  network: string;
}

export interface ApplianceView {
  options: ApplianceOptionView[];
  properties: ApplianceProperty[];
  /** Every NIC of the appliance, in NIC order, with the appliance network it is on. */
  nics: ApplianceNicView[];
  networks: { name: string; description: string }[];
  eulas: { info: string; license: string }[];
}

export interface TemplateWithDetails {
  id: string;
  name: string;
  deployasis?: boolean;
  deployasisdetails?: Record<string, string>;
}

function json<T>(raw: string | undefined): T | undefined {
  try {
    return raw === undefined ? undefined : (JSON.parse(raw) as T);
  } catch {
    return undefined;
  }
}

/** The appliance a template is, or undefined for an ordinary template. */
export function applianceOfTemplate(t: TemplateWithDetails | undefined): ApplianceView | undefined {
  if (!t?.deployasis || !t.deployasisdetails) return undefined;
  const out: ApplianceView = { options: [], properties: [], nics: [], networks: [], eulas: [] };
  for (const [key, value] of Object.entries(t.deployasisdetails)) {
    if (key.startsWith('configuration-')) {
      const o = json<ApplianceOptionView>(value);
      if (o) out.options.push(o);
    } else if (key.startsWith('property-')) {
      const p = json<Omit<ApplianceProperty, 'type' | 'declaredType'> & { type: string; kind: ApplianceProperty['type'] }>(value);
      if (p) out.properties.push({ ...p, declaredType: p.type, type: p.kind });
    } else if (key.startsWith('network-')) {
      const n = json<{ name: string; networkDescription?: string; nics?: Omit<ApplianceNicView, 'network'>[] }>(value);
      if (!n) continue;
      out.networks.push({ name: n.name, description: n.networkDescription ?? '' });
      for (const nic of n.nics ?? []) out.nics.push({ ...nic, network: n.name });
    } else if (key.startsWith('eula-')) {
      out.eulas.push({ info: key.replace(/^eula-\d+-/, ''), license: value });
    }
  }
  out.options.sort((a, b) => a.index - b.index);
  out.properties.sort((a, b) => a.index - b.index);
  out.nics.sort((a, b) => a.index - b.index);
  return out;
}

/** The option a draft has chosen (its own, else the descriptor's default). */
export function chosenOption(a: ApplianceView, configurationId: string): ApplianceOptionView | undefined {
  return a.options.find((o) => o.id === configurationId) ?? a.options.find((o) => o.default);
}

/** R38: the offerings that meet the option's vCPUs and memory (custom offerings: their maximum, when they have one). */
export function offeringsForOption<T extends OfferingSize>(offerings: T[], option: ApplianceOptionView | undefined): T[] {
  if (!option) return offerings;
  return offerings.filter((o) => {
    const cpu = o.iscustomized ? o.maxcpunumber : o.cpunumber;
    const memory = o.iscustomized ? o.maxmemory : o.memory;
    return (option.cpuNumber === undefined || cpu === undefined || cpu >= option.cpuNumber) && (option.memory === undefined || memory === undefined || memory >= option.memory);
  });
}

/** The value a property will be deployed with: what the draft says, else the default. */
export const propertyValue = (p: ApplianceProperty, values: Record<string, string>): string => values[p.key] ?? p.value ?? '';

/** What keeps the appliance choices from being complete, in the engine's words. */
export function applianceProblems(a: ApplianceView, values: Record<string, string>, eulaAccepted: boolean): string[] {
  const out: string[] = [];
  for (const p of a.properties) {
    if (!p.userConfigurable) continue;
    const value = propertyValue(p, values);
    if (value === '' && !p.minLength) continue;
    const problem = checkApplianceValue(p, value);
    if (problem) out.push(problem);
  }
  if (a.eulas.length > 0 && !eulaAccepted) out.push('Accept the licence agreement to deploy this appliance.');
  return out;
}
