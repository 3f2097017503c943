/**
 * The storage-manager (SM) drivers behind the simulated SRs, and what their features allow.
 *
 * xapi asks an SR's SM record (the one whose `type` is the SR's) before a VDI operation: no
 * feature, SR_OPERATION_NOT_SUPPORTED [sr] (xen-api ocaml/xapi/xapi_vdi.ml, feature_of_op and
 * check_sm_feature_error; the names in ocaml/xapi/smint.ml). The feature lists are the drivers'
 * own CAPABILITIES: xapi-project/sm libs/sm/drivers/NFSSR.py, LVHDSR.py (which also handles type
 * "lvm") and ISOSR.py, and the community Ceph driver rposudnevskiy/RBDSR (type "rbd"), the one of
 * these that advertises VDI_RESIZE_ONLINE (no stock SMAPIv1 driver does). A "NAME/N" capability is
 * feature NAME at version N, else version 1 (smint.ml, parse_capability_int64_features).
 */
import type { Sim } from './sim.js';

const DRIVERS: Record<string, { name: string; vendor: string; capabilities: string[] }> = {
  nfs: {
    name: 'NFS VHD', vendor: 'Citrix Systems Inc',
    capabilities: ['SR_PROBE', 'SR_UPDATE', 'SR_CACHING', 'VDI_CREATE', 'VDI_DELETE', 'VDI_ATTACH', 'VDI_DETACH', 'VDI_UPDATE', 'VDI_CLONE', 'VDI_SNAPSHOT', 'VDI_RESIZE',
      'VDI_GENERATE_CONFIG', 'VDI_MIRROR', 'VDI_RESET_ON_BOOT/2', 'ATOMIC_PAUSE', 'VDI_CONFIG_CBT', 'VDI_ACTIVATE', 'VDI_DEACTIVATE', 'THIN_PROVISIONING', 'VDI_READ_CACHING'],
  },
  lvm: {
    name: 'Local VHD on LVM', vendor: 'Citrix Systems Inc',
    capabilities: ['SR_PROBE', 'SR_UPDATE', 'SR_TRIM', 'VDI_CREATE', 'VDI_DELETE', 'VDI_ATTACH', 'VDI_DETACH', 'VDI_MIRROR', 'VDI_CLONE', 'VDI_SNAPSHOT', 'VDI_RESIZE',
      'ATOMIC_PAUSE', 'VDI_RESET_ON_BOOT/2', 'VDI_UPDATE', 'VDI_CONFIG_CBT', 'VDI_ACTIVATE', 'VDI_DEACTIVATE'],
  },
  iso: {
    name: 'ISO', vendor: 'Citrix Systems Inc',
    capabilities: ['VDI_CREATE', 'VDI_DELETE', 'VDI_ATTACH', 'VDI_DETACH', 'SR_SCAN', 'SR_ATTACH', 'SR_DETACH'],
  },
  rbd: {
    name: 'RBD', vendor: 'Roman V. Posudnevskiy',
    capabilities: ['VDI_CREATE', 'VDI_DELETE', 'VDI_ATTACH', 'VDI_DETACH', 'VDI_CLONE', 'VDI_SNAPSHOT', 'VDI_INTRODUCE', 'VDI_RESIZE', 'VDI_RESIZE_ONLINE', 'VDI_UPDATE',
      'VDI_MIRROR', 'VDI_RESET_ON_BOOT/2', 'VDI_GENERATE_CONFIG', 'ATOMIC_PAUSE', 'SR_SCAN', 'SR_UPDATE', 'SR_ATTACH', 'SR_DETACH', 'SR_PROBE', 'SR_METADATA'],
  },
};

export type SmType = keyof typeof DRIVERS;

/** One SM record per driver type, as xapi registers them at start (one per SM plugin found). */
export function seedSms(sim: Sim): void {
  for (const [type, d] of Object.entries(DRIVERS)) {
    const features = Object.fromEntries(d.capabilities.map((c) => {
      const [name, version] = c.split('/');
      return [name!, Number(version ?? 1)];
    }));
    sim.store.create('SM', {
      name_label: d.name, name_description: `SR plugin for ${type} SRs`, type, vendor: d.vendor, version: '1.0', required_api_version: '1.0',
      capabilities: d.capabilities.map((c) => c.split('/')[0]!), features, driver_filename: `/opt/xensource/sm/${type.toUpperCase()}SR`,
    });
  }
}

/** Whether the SM driver of SR's type has FEATURE (an SR of a type no SM handles has none). */
export function srHasFeature(sim: Sim, sr: string, feature: string): boolean {
  const type = sim.store.rec('SR', sr)['type'];
  const sm = sim.store.all('SM').find((r) => r.rec['type'] === type);
  return sm !== undefined && feature in (sm.rec['features'] as Record<string, unknown>);
}
