/** The shapes of the API objects the UI reads (only the fields it uses). */
export interface Nic {
  id: string;
  networkid?: string;
  networkname?: string;
  macaddress?: string;
  ipaddress?: string;
  gateway?: string;
  netmask?: string;
  isdefault?: boolean;
  deviceid?: string;
  type?: string;
  broadcasturi?: string;
}

export interface Vm {
  id: string;
  name: string;
  displayname: string;
  state: string;
  hostid?: string;
  hostname?: string;
  /** The cluster it runs in or last ran in (also while stopped). */
  clusterid?: string;
  serviceofferingid?: string;
  serviceofferingname?: string;
  zoneid?: string;
  zonename?: string;
  templateid?: string;
  templatename?: string;
  isoid?: string;
  isoname?: string;
  haenable?: boolean;
  group?: string;
  account?: string;
  domain?: string;
  created?: string;
  cpunumber?: number;
  cpuspeed?: number;
  memory?: number;
  osdisplayname?: string;
  hypervisor?: string;
  instancename?: string;
  isdynamicallyscalable?: boolean;
  ostypeid?: string;
  nic?: Nic[];
  details?: Record<string, string>;
  affinitygroup?: { id: string; name: string; type?: string }[];
  jobid?: string;
  tags?: ResourceTag[];
  /** The names of the SSH key pairs the VM was given, comma-separated (CloudStack's keypairs). */
  keypairs?: string;
  /** Kiln: the consoles its host offers, comma-separated: `serial` and the graphical protocol (`vnc`). */
  consoles?: string;
}

/** A resource tag (CloudStack's ResourceTagResponse). */
export interface ResourceTag {
  key: string;
  value: string;
  resourcetype: string;
  resourceid: string;
  account?: string;
}

/** An SSH key pair as listSSHKeyPairs shows it; privatekey only in createSSHKeyPair's answer. */
export interface KeyPair {
  id: string;
  name: string;
  fingerprint: string;
  account?: string;
  domain?: string;
  privatekey?: string;
}

export interface Host {
  id: string;
  name: string;
  state: string;
  resourcestate?: string;
  hypervisor?: string;
  hypervisorversion?: string;
  zoneid?: string;
  zonename?: string;
  podid?: string;
  podname?: string;
  clusterid?: string;
  clustername?: string;
  cpunumber?: number;
  cpuspeed?: number;
  cpuallocated?: string;
  memorytotal?: number;
  memoryallocated?: number;
  memoryused?: number;
  ipaddress?: string;
  hostkeyfingerprint?: string;
  /** What the fingerprint is of: ssh-host-key or tls-certificate (the host's driver's trust kind). */
  trustkind?: string;
  hosttags?: string;
  oscategoryid?: string;
  oscategoryname?: string;
  lastpinged?: string;
  details?: { lasterror?: string };
}

export interface Pod extends Named {
  zoneid: string;
  zonename?: string;
}

export interface Cluster extends Named {
  zoneid: string;
  podid: string;
  podname?: string;
  hypervisortype?: string;
}

export interface AffinityGroup {
  id: string;
  name: string;
  type: string;
  description?: string;
  account?: string;
  domain?: string;
  virtualmachineIds?: string[];
}

/** One host's verdict in a placement (the planner's HostVerdict). */
export interface HostVerdict {
  hostId?: string;
  hostName: string;
  suitable: boolean;
  reason: string;
}

/** A placement decision: the deploy job's `virtualmachine.placement`, or explainPlacement's `placement`. */
export interface Placement {
  policy?: string;
  hostid?: string;
  hostname?: string;
  /** The suitable hosts' names, in the order they would be tried. */
  order?: string[];
  hosts?: HostVerdict[];
}

export interface Named {
  id: string;
  name: string;
  displaytext?: string;
}

export interface ServiceOffering extends Named {
  cpunumber?: number;
  cpuspeed?: number;
  memory?: number;
  iscustomized?: boolean;
  offerha?: boolean;
  serviceofferingdetails?: Record<string, string>;
}

export interface DiskOffering extends Named {
  disksize?: number;
  iscustomized?: boolean;
}

export interface EventRecord {
  id: string;
  type: string;
  level: string;
  state?: string;
  description: string;
  username?: string;
  account?: string;
  resourcetype?: string;
  resourceid?: string;
  created: string;
}

export interface Configuration {
  name: string;
  value: string;
  defaultvalue?: string;
  category: string;
  description: string;
  type?: string;
  scope?: string;
  options?: string;
}

/** What the 'jobs' subscription delivers: the bridge contract's type. */
export type { JobUpdate } from '../../../preload/api';

/** What the 'vms' subscription delivers: the bridge contract's type (changed VM records, removed ids). */
export type { VmsUpdate, EventsUpdate } from '../../../preload/api';

/** Reads the list out of a list response: `{count, <name>: [...]}`, or `{}` when empty. */
export function listOf<T>(response: Record<string, unknown>, name: string): T[] {
  const items = response[name];
  return Array.isArray(items) ? (items as T[]) : [];
}

export function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

export function errorCode(error: unknown): number | undefined {
  const code = (error as { errorcode?: unknown } | undefined)?.errorcode;
  return typeof code === 'number' ? code : undefined;
}

/** An error as forms show it: the API's code (431, 534, …) and its text. */
export interface ShownError {
  code?: number;
  text: string;
}

export function shownError(error: unknown): ShownError {
  return { code: errorCode(error), text: errorText(error) };
}
