/**
 * What a downloaded image must be before a host may use it. A qcow2 header can name a backing
 * file or an external data file on the host (/etc/shadow, /dev/sda), which qemu would open for the
 * guest; such images are refused, as is a "RAW" or ISO that is really qcow2 (libvirt probes the
 * format of files in a directory pool, so the declared format alone protects nothing).
 */
import { open } from 'node:fs/promises';

const QCOW2_MAGIC = 0x514649fb; // "QFI\xfb"
/** qcow2 v3 incompatible feature bit 2: the guest data lives in an external file. */
const QCOW2_EXTERNAL_DATA = 4n;

export interface ImageFacts {
  /** The size a disk made from it has (qcow2: its virtual size; otherwise the file's). */
  virtualSize: number;
}

export async function inspectImage(file: string, format: string, bytes: number): Promise<ImageFacts> {
  const handle = await open(file, 'r');
  try {
    const head = Buffer.alloc(Math.min(bytes, 40_000));
    await handle.read(head, 0, head.length, 0);
    const isQcow2 = head.length >= 104 && head.readUInt32BE(0) === QCOW2_MAGIC;
    if (format === 'QCOW2') {
      if (!isQcow2) throw new Error('the file is not a QCOW2 image (no QFI\\xfb header)');
      const version = head.readUInt32BE(4);
      if (version !== 2 && version !== 3) throw new Error(`unsupported QCOW2 version ${version}`);
      if (head.readBigUInt64BE(8) !== 0n) throw new Error('the QCOW2 image names a backing file; Kiln accepts only self-contained images');
      if (version === 3 && (head.readBigUInt64BE(72) & QCOW2_EXTERNAL_DATA) !== 0n) throw new Error('the QCOW2 image keeps its data in an external file; Kiln accepts only self-contained images');
      return { virtualSize: Number(head.readBigUInt64BE(24)) };
    }
    if (isQcow2) throw new Error(`the file is a QCOW2 image, not ${format}; register it with format QCOW2`);
    if (format === 'ISO' && !(head.length >= 32774 && head.toString('latin1', 32769, 32774) === 'CD001')) throw new Error('the file is not an ISO 9660 image (no CD001 descriptor)');
    return { virtualSize: bytes };
  } finally {
    await handle.close();
  }
}
