/**
 * What a downloaded image must be before a host may use it. A qcow2 header can name a backing
 * file or an external data file on the host (/etc/shadow, /dev/sda), which qemu would open for the
 * guest; such images are refused, as is a "RAW" or ISO that is really qcow2 (libvirt probes the
 * format of files in a directory pool, so the declared format alone protects nothing).
 */
import { open } from 'node:fs/promises';
import { isQcow2, readQcow2Header } from '../../../drivers/common/qcow2.js';

export interface ImageFacts {
  /** The size a disk made from it has (qcow2: its virtual size; otherwise the file's). */
  virtualSize: number;
}

export async function inspectImage(file: string, format: string, bytes: number): Promise<ImageFacts> {
  const handle = await open(file, 'r');
  try {
    const head = Buffer.alloc(Math.min(bytes, 40_000));
    await handle.read(head, 0, head.length, 0);
    if (format === 'QCOW2') return { virtualSize: readQcow2Header(head, 'store').virtualSize };
    if (isQcow2(head)) throw new Error(`the file is a QCOW2 image, not ${format}; register it with format QCOW2`);
    // An XVA is a tar whose first member is ova.xml (xapi's import refuses anything else first).
    if (format === 'XVA' && !(head.length >= 512 && head.toString('latin1', 0, 8) === 'ova.xml\0')) throw new Error('the file is not an XVA (a tar whose first member is ova.xml)');
    if (format === 'ISO' && !(head.length >= 32774 && head.toString('latin1', 32769, 32774) === 'CD001')) throw new Error('the file is not an ISO 9660 image (no CD001 descriptor)');
    return { virtualSize: bytes };
  } finally {
    await handle.close();
  }
}
