/**
 * Virtual appliances in the driver contract (R37–R38): a template that is deployed as it is
 * described (an OVA's OVF on vSphere), not assembled by Kiln from disks and NICs. A driver that
 * deploys them publishes an ApplianceFacet (HypervisorDriver.appliances); the engine reads the
 * descriptor once, when the download of such a template completes, stores it, publishes it
 * (listTemplates' deployasisdetails, listTemplateOvfProperties) and checks a deploy's choices
 * against it; the driver gets the choices back in VmSpec.appliance. What the format is and how it
 * is parsed stays in the driver; the shapes here are what engine and UI need to know.
 */
import type { StoredImage } from './types.js';

/** A property the appliance asks for at deploy (OVF ProductSection Property). */
export interface ApplianceProperty {
  /** The key the platform maps it by (OVF: class.key.instance). */
  key: string;
  /** The value's kind, for the input and the check. */
  type: 'string' | 'boolean' | 'int' | 'real';
  /** The type as the descriptor writes it (string, uint16, password…). */
  declaredType: string;
  /** The default value. */
  value?: string;
  /** Masked in the UI and sealed in Kiln's database. */
  password: boolean;
  /** False: the default is used and no one may set it. */
  userConfigurable: boolean;
  /** The qualifiers as written (MinLen(8), ValueMap{"a","b"}), for display. */
  qualifiers?: string;
  label?: string;
  description?: string;
  category?: string;
  /** Order in the descriptor. */
  index: number;
  /** The qualifiers and the type's range, read: what a value must meet (checkApplianceValue). */
  minLength?: number;
  maxLength?: number;
  choices?: string[];
  min?: number;
  max?: number;
}

/** A deployment option (OVF DeploymentOptionSection Configuration) and the hardware it gives. */
export interface ApplianceOption {
  id: string;
  label?: string;
  description?: string;
  default: boolean;
  index: number;
  /** vCPUs and memory the VM gets with this option (the descriptor's items for it, else the common ones). */
  cpuNumber?: number;
  memoryMiB?: number;
}

/** A network the appliance's NICs connect to (OVF NetworkSection), each mapped onto one of Kiln's at deploy. */
export interface ApplianceNetwork {
  name: string;
  description?: string;
  /** The appliance's NICs on it, by their OVF InstanceID (deployVirtualMachine's nicnetworklist[i].nic), for the one-network-per-NIC step. */
  nics: { index: number; instanceId: string; name?: string; adapter?: string }[];
}

export interface ApplianceEula {
  index: number;
  info?: string;
  license: string;
}

export interface ApplianceDescriptor {
  options: ApplianceOption[];
  properties: ApplianceProperty[];
  networks: ApplianceNetwork[];
  eulas: ApplianceEula[];
  /** vCPUs and memory without a chosen option (the descriptor's common items). */
  cpuNumber?: number;
  memoryMiB?: number;
  /** Disk capacities, for the template's size. */
  diskBytes: number;
}

export interface ApplianceFacet {
  /** The template formats (registerTemplate format=) that are appliances for this driver, e.g. ['OVA']. */
  formats: string[];
  /** Reads the descriptor of the downloaded image at FILE (in Kiln's image store); throws with the reason for a malformed one. */
  describe(file: string): Promise<ApplianceDescriptor>;
}

/** What a deploy chose, for define() to import the appliance with. */
export interface ApplianceDeploy {
  /** The downloaded appliance in Kiln's image store. */
  image: StoredImage & { path: string };
  /** ApplianceOption.id; absent: the descriptor's default. */
  option?: string;
  /** Property values by key (passwords in the clear, only for the life of the call). */
  properties: Record<string, string>;
  /** Per appliance network name: the network (HostInventory.networks name) it is connected to. */
  networks: Record<string, string>;
}

/**
 * What is wrong with VALUE for property P, in words for a 431 and the wizard, or undefined.
 * One rule for the engine's check and the deploy wizard's (renderer imports this file).
 */
export function checkApplianceValue(p: Pick<ApplianceProperty, 'key' | 'type' | 'minLength' | 'maxLength' | 'choices' | 'min' | 'max' | 'label'>, value: string): string | undefined {
  const name = p.label ? `${p.label} (${p.key})` : p.key;
  if (p.choices && p.choices.length > 0 && !p.choices.includes(value)) return `${name}: one of ${p.choices.map((c) => JSON.stringify(c)).join(', ')}`;
  switch (p.type) {
    case 'boolean':
      if (value !== 'true' && value !== 'false') return `${name}: true or false`;
      return undefined;
    case 'int':
    case 'real': {
      const ok = p.type === 'int' ? /^-?\d+$/.test(value) : /^-?\d+(\.\d+)?$/.test(value);
      if (!ok) return `${name}: ${p.type === 'int' ? 'a whole number' : 'a number'}`;
      const n = Number(value);
      if (p.min !== undefined && n < p.min) return `${name}: at least ${p.min}`;
      if (p.max !== undefined && n > p.max) return `${name}: at most ${p.max}`;
      return undefined;
    }
    default:
      if (p.minLength !== undefined && value.length < p.minLength) return `${name}: at least ${p.minLength} characters`;
      if (p.maxLength !== undefined && value.length > p.maxLength) return `${name}: at most ${p.maxLength} characters`;
      return undefined;
  }
}
