/**
 * Small formatting rules shared by every response: CloudStack's date form and byte sizes.
 */

/** CloudStack prints dates as 2026-11-23T20:36:40+0000. */
export function csDate(iso: string | null | undefined): string | undefined {
  if (!iso) return undefined;
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return undefined;
  return d.toISOString().replace(/\.\d{3}Z$/, '+0000');
}

export const MiB = 1024 * 1024;
export const GiB = 1024 * MiB;
