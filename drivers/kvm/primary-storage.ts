/**
 * The host's libvirt storage pools as primary storage (PrimaryStorageFacet): CloudStack's pool
 * types for libvirt's, the pool's scope (a pool type other hosts see, or one the host was added
 * with as shared — the test hosts' dir pool on one path — is the cluster's), and the pool Kiln
 * puts disks in by default.
 */
import type { PrimaryStoragePool } from '../types.js';
import { SHARED_POOL_TYPES, type PoolInfo } from './resource-xml.js';

/** libvirt pool type -> CloudStack's StoragePoolType (KVM's LibvirtStoragePoolDef mapping). */
const CLOUDSTACK_TYPES: Record<string, string> = {
  dir: 'Filesystem', fs: 'SharedMountPoint', netfs: 'NetworkFilesystem', logical: 'CLVM', rbd: 'RBD',
  gluster: 'Gluster', iscsi: 'Iscsi', 'iscsi-direct': 'Iscsi', disk: 'Filesystem', mpath: 'Iscsi', zfs: 'Filesystem',
};

export function primaryPools(pools: PoolInfo[], options: { defaultPool: string; sharedPools: Set<string> }): PrimaryStoragePool[] {
  return pools
    .map((p) => {
      const shared = SHARED_POOL_TYPES.has(p.type) || options.sharedPools.has(p.name);
      // A dir pool the admin declared shared is one mount on every host: CloudStack's SharedMountPoint.
      const type = shared && p.type === 'dir' ? 'SharedMountPoint' : CLOUDSTACK_TYPES[p.type] ?? p.type;
      return {
        ref: p.name, name: p.name, type, scope: shared ? ('CLUSTER' as const) : ('HOST' as const),
        capacityBytes: p.capacityBytes, usedBytes: p.allocationBytes,
        ...(p.name === options.defaultPool ? { isDefault: true } : {}),
      };
    });
}
