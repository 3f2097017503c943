/**
 * OVA appliances on vSphere: the driver's ApplianceFacet (describe a downloaded OVA) and the
 * import (import.ts). An OVA is a tar whose first member is the OVF descriptor; every file the
 * descriptor references must be in it.
 */
import type { ApplianceDescriptor, ApplianceFacet } from '../../appliance.js';
import { parseOvf } from './descriptor.js';
import { readDescriptor } from './archive.js';

export async function describeOva(file: string): Promise<ApplianceDescriptor> {
  const { xml } = await readDescriptor(file);
  return parseOvf(xml);
}

export const OVA_APPLIANCES: ApplianceFacet = {
  formats: ['OVA'],
  describe: describeOva,
};

export { importAppliance } from './import.js';
export { parseOvf, OvfError } from './descriptor.js';
