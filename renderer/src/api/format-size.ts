/**
 * Sizes as the UI shows them, on every page: binary units (KiB, MiB, GiB, TiB: what CloudStack
 * and the hypervisors count in, 1024-based), one decimal from KiB up ("2.0 GiB"), so the same
 * disk reads the same on the Volumes tab, the Images page and the storage pools.
 */
const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'] as const;
export const GiB = 1024 ** 3;

function unitOf(bytes: number): number {
  let unit = 0;
  while (bytes >= 1024 ** (unit + 1) && unit < UNITS.length - 1) unit++;
  return unit;
}

function inUnit(bytes: number, unit: number): string {
  return unit === 0 ? String(Math.round(bytes)) : (bytes / 1024 ** unit).toFixed(1);
}

/** "512 B", "256.0 KiB", "2.0 GiB", "1.0 TiB"; "—" when there is no size. */
export function formatBytes(bytes: number | undefined): string {
  if (bytes === undefined || !Number.isFinite(bytes) || bytes < 0) return '—';
  const unit = unitOf(bytes);
  return `${inUnit(bytes, unit)} ${UNITS[unit]}`;
}

/** A size given in GiB (an offering's disksize, a size parameter: CloudStack's "GB" are GiB). */
export function formatGiB(gib: number | undefined): string {
  return gib === undefined ? '—' : formatBytes(gib * GiB);
}

/** "1.0 of 16.0 GiB": a part of a whole, both in the whole's unit. */
export function formatBytesOf(part: number, whole: number): string {
  const unit = unitOf(Math.max(part, whole));
  return `${inUnit(part, unit)} of ${inUnit(whole, unit)} ${UNITS[unit]}`;
}
