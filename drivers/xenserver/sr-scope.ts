/**
 * Which hosts of a pool reach an SR. xapi connects an SR to a host by a PBD; a host sees the SR
 * while that PBD is currently attached (xapi_vm_helpers which_specified_SRs_not_available_on_host,
 * behind VM_REQUIRES_SR). A shared SR (NFS, iSCSI, …) has one PBD per host and is the pool's, a
 * Kiln cluster's pool; a local SR (LVM or EXT on one host's disk, shared=false) has one PBD and
 * is that host's alone, a HOST-scoped storage pool in Kiln. PBDs are in the inventory's feed.
 */
import type { PrimaryStoragePool } from '../types.js';
import type { XenPool } from './pool.js';
import type { SrRecord, XRef } from './xapi/records.js';

/** xapi's SR type -> CloudStack's StoragePoolType (its XenServer storage adaptors). */
const SR_TYPES: Record<string, string> = { nfs: 'NetworkFilesystem', lvmoiscsi: 'IscsiLUN', lvmohba: 'PreSetup', ext: 'EXT', lvm: 'LVM' };

/** An SR that holds VM disks (not an ISO library, not the removable-media udev SRs). */
export function isDiskSr(s: Pick<SrRecord, 'content_type' | 'type'>): boolean {
  return s.content_type !== 'iso' && s.type !== 'iso' && s.type !== 'udev';
}

/** The hosts with a currently attached PBD of SR. */
export function hostsOfSr(pool: XenPool, sr: XRef): XRef[] {
  return pool.inventory.all('PBD').filter(([, p]) => p.SR === sr && p.currently_attached === true).map(([, p]) => p.host);
}

/** Whether HOST reaches SR: a shared SR always (the pool's), a local one only through its PBD on HOST. */
export function hostReachesSr(pool: XenPool, sr: XRef, host: XRef): boolean {
  const s = pool.inventory.get('SR', sr);
  if (!s) return false;
  return s.shared === true || hostsOfSr(pool, sr).includes(host);
}

/** The disk SRs HOST reaches, each with its scope: CLUSTER for a shared SR, HOST for a local one plugged here. */
export function srsOfHost(pool: XenPool, host: XRef): { ref: XRef; sr: SrRecord; scope: 'CLUSTER' | 'HOST' }[] {
  return pool.inventory.all('SR')
    .filter(([ref, s]) => isDiskSr(s) && hostReachesSr(pool, ref, host))
    .map(([ref, s]) => ({ ref, sr: s, scope: s.shared === true ? ('CLUSTER' as const) : ('HOST' as const) }));
}

/** HOST's primary storage: the pool's shared SRs and its own local SRs, the pool's default SR the default. */
export function primaryPools(pool: XenPool, host: XRef): PrimaryStoragePool[] {
  const fallback = pool.poolRecord()?.default_SR;
  return srsOfHost(pool, host).map(({ ref, sr, scope }) => ({
    ref, name: sr.name_label, type: SR_TYPES[sr.type] ?? 'PreSetup', scope,
    capacityBytes: Number(sr.physical_size ?? 0), usedBytes: Number(sr.physical_utilisation ?? 0),
    ...(ref === fallback ? { isDefault: true } : {}),
  }));
}
