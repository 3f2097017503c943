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
  serviceofferingid?: string;
  serviceofferingname?: string;
  zoneid?: string;
  zonename?: string;
  templatename?: string;
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
  nic?: Nic[];
  details?: Record<string, string>;
  affinitygroup?: { id: string; name: string; type?: string }[];
  jobid?: string;
}

export interface Host {
  id: string;
  name: string;
  state: string;
  resourcestate?: string;
  hypervisor?: string;
  zonename?: string;
  podname?: string;
  clustername?: string;
  cpunumber?: number;
  cpuspeed?: number;
  cpuallocated?: string;
  memorytotal?: number;
  memoryallocated?: number;
  memoryused?: number;
  ipaddress?: string;
  hostkeyfingerprint?: string;
  hosttags?: string;
  details?: { lasterror?: string };
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

/** What the 'jobs' subscription delivers (engine.jobs.updates). */
export interface JobUpdate {
  jobid: string;
  cmd: string;
  status: number;
  progress: number;
  message?: string;
  instanceType?: string;
  instanceId?: string;
}

/** What the 'vms' subscription delivers (engine.bus 'vm'). */
export interface VmStateChange {
  id: string;
  state: string;
}

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
