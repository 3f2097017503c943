/**
 * The hypervisor drivers this build carries beyond the simulator. Each is loaded lazily so a
 * missing optional dependency never stops the engine from starting on the demo zone.
 */
import type { HypervisorDriver } from '../drivers/types.js';

export async function kvmDriverIfAvailable(_dataDir: string): Promise<HypervisorDriver[]> {
  return [];
}
