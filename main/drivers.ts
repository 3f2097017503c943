/**
 * The hypervisor drivers this build carries beyond the simulator. Loaded lazily so the demo
 * zone starts even where an optional native piece of a driver is missing.
 */
import type { HypervisorDriver } from '../drivers/types.js';

export async function kvmDriverIfAvailable(_dataDir: string): Promise<HypervisorDriver[]> {
  try {
    const { KvmDriver } = await import('../drivers/kvm/index.js');
    return [new KvmDriver()];
  } catch (error) {
    console.warn(`[kiln] KVM driver unavailable: ${error instanceof Error ? error.message : String(error)}`);
    return [];
  }
}

/** vSphere (vCenter or standalone ESXi over vim25 SOAP): pure TypeScript, so always available. */
export async function vsphereDriver(): Promise<HypervisorDriver[]> {
  const { VsphereDriver } = await import('../drivers/vsphere/index.js');
  return [new VsphereDriver()];
}

/** XenServer / XCP-ng (a pool master over xapi JSON-RPC): pure TypeScript, so always available. */
export async function xenserverDriver(): Promise<HypervisorDriver[]> {
  const { XenServerDriver } = await import('../drivers/xenserver/index.js');
  return [new XenServerDriver()];
}

/** `kiln discover-networks` (R52): the vSphere driver's own offline tool, loaded only when run. */
export async function vsphereDiscoverNetworks(): Promise<typeof import('../drivers/vsphere/discover-networks-cli.js')> {
  return import('../drivers/vsphere/discover-networks-cli.js');
}

/** Every optional driver this build carries (the engine adds the simulator itself). */
export async function availableDrivers(dataDir: string): Promise<HypervisorDriver[]> {
  return [...(await kvmDriverIfAvailable(dataDir)), ...(await vsphereDriver()), ...(await xenserverDriver())];
}
