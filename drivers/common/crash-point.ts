/**
 * Named points where a crash test stops the process on purpose. Some windows a kill -9 must land
 * in last milliseconds (between the renames that put a restore's disks in place, between a
 * backup's copy and the commit of its overlays); a test cannot hit them by timing. With
 * KILN_TEST_PAUSE_AT naming a point (comma-separated for several), the process announces it on
 * standard error (`KILN-TEST-PAUSED <point>`) and waits there until the variable no longer names
 * it: a test in another process kills it meanwhile, a test in this process changes the variable
 * to let it go on. Without the variable this is one environment lookup, nothing more.
 */
const VARIABLE = 'KILN_TEST_PAUSE_AT';

function names(point: string): boolean {
  return (process.env[VARIABLE] ?? '').split(',').map((p) => p.trim()).includes(point);
}

/** Points passed so far in this process, for tests in the same process to wait on. */
export const pausedAt = new Set<string>();

export async function crashPoint(point: string): Promise<void> {
  if (!names(point)) return;
  pausedAt.add(point);
  process.stderr.write(`KILN-TEST-PAUSED ${point}\n`);
  while (names(point)) await new Promise((resolve) => setTimeout(resolve, 50));
}
