/**
 * Names as vCenter holds them. The engine chooses a VM's internal name (R3: i-<user>-<vm>-<…>);
 * the vCenter name is that name with the three characters vCenter itself stores escaped
 * ('%' → %25, '/' → %2f, '\' → %5c), so a display name with a slash neither makes a directory
 * on the datastore nor crashes vcsim. XML markup in names is escaped by the codec, not here.
 */

export function toVcenterName(name: string): string {
  return name.replace(/[%/\\]/g, (c) => (c === '%' ? '%25' : c === '/' ? '%2f' : '%5c'));
}

export function fromVcenterName(name: string): string {
  return name.replace(/%(25|2f|5c)/gi, (_m, hex: string) => String.fromCharCode(parseInt(hex, 16)));
}

/** vCenter's own limit on entity names. */
export const MAX_VCENTER_NAME = 80;

/** https://VCENTER[:PORT]/DATACENTER[/CLUSTER] (CloudStack's addCluster url for VMware), or https://ESXI[:PORT] for a standalone host. */
export interface VsphereLocation {
  /** The SDK endpoint: https://host[:port]/sdk */
  sdkUrl: string;
  host: string;
  port: number;
  datacenter?: string;
  cluster?: string;
}

export function parseVsphereUrl(url: string): VsphereLocation {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new Error(`not a URL: ${JSON.stringify(url)}; expected https://VCENTER/DATACENTER/CLUSTER`);
  }
  if (u.protocol !== 'https:' && u.protocol !== 'vsphere:') throw new Error(`a vCenter URL is https://VCENTER/DATACENTER/CLUSTER, not ${u.protocol}`);
  if (u.username || u.password) throw new Error('credentials go in username and password, not in the URL');
  const parts = u.pathname.split('/').filter((p) => p !== '').map((p) => decodeURIComponent(p));
  if (parts[0] === 'sdk') parts.shift();
  if (parts.length > 2) throw new Error(`a vCenter URL names at most a datacenter and a cluster: ${url}`);
  const port = u.port ? Number(u.port) : 443;
  return { sdkUrl: `https://${u.host}/sdk`, host: u.hostname, port, datacenter: parts[0], cluster: parts[1] };
}
