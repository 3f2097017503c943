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
import type { ApplianceProperty } from './appliance-values.js';

export { checkApplianceValue, type ApplianceProperty } from './appliance-values.js';

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
