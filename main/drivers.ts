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
