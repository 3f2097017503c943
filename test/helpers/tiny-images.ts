/**
 * The smallest files Kiln's image store takes as a QCOW2 template and as an ISO (image-check.ts
 * reads the qcow2 header's magic, version and virtual size; an ISO's CD001 descriptor at sector 16),
 * for tests that register images by URL and never boot them.
 */

/** A 64 KiB qcow2 header of a 64 MiB disk. */
export const TINY_QCOW2 = (() => {
  const b = Buffer.alloc(64 * 1024);
  b.writeUInt32BE(0x514649fb, 0);
  b.writeUInt32BE(3, 4);
  b.writeBigUInt64BE(BigInt(64 * 1024 * 1024), 24);
  b.writeUInt32BE(104, 100);
  return b;
})();

/** An ISO 9660 image of BYTES (at least 36 KiB): the primary volume descriptor's CD001 at sector 16. */
export function tinyIso(bytes = 64 * 1024): Buffer {
  const b = Buffer.alloc(bytes);
  b.write('\u0001CD001', 16 * 2048, 'latin1');
  return b;
}
