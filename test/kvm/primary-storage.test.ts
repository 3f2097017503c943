/**
 * The KVM driver's libvirt pools as primary storage (drivers/kvm/primary-storage.ts): CloudStack's
 * pool type for libvirt's, the scope (a pool type other hosts see, or a dir pool the host was
 * added with as shared, is the cluster's), used bytes from libvirt's allocation, the default pool.
 */
import { describe, expect, it } from 'vitest';
import { primaryPools } from '../../drivers/kvm/primary-storage.js';
import type { PoolInfo } from '../../drivers/kvm/resource-xml.js';

const pool = (name: string, type: string): PoolInfo => ({ name, type, path: `/p/${name}`, capacityBytes: 100, allocationBytes: 40, availableBytes: 60 });

describe('primaryPools', () => {
  it('maps type and scope, and flags the default pool', () => {
    const pools = primaryPools([pool('kiln', 'dir'), pool('nfs', 'netfs'), pool('shared-dir', 'dir'), pool('vg', 'logical'), pool('odd', 'vstorage')], { defaultPool: 'kiln', sharedPools: new Set(['shared-dir']) });
    expect(pools.map((p) => [p.name, p.type, p.scope, p.isDefault ?? false])).toEqual([
      ['kiln', 'Filesystem', 'HOST', true],
      ['nfs', 'NetworkFilesystem', 'CLUSTER', false],
      ['shared-dir', 'SharedMountPoint', 'CLUSTER', false],
      ['vg', 'CLVM', 'HOST', false],
      ['odd', 'vstorage', 'CLUSTER', false],
    ]);
    expect(pools[0]).toMatchObject({ ref: 'kiln', capacityBytes: 100, usedBytes: 40 });
  });
});
