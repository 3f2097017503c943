/**
 * QCOW2 (QEMU's image format, docs/interop/qcow2.txt in QEMU's sources), read without qemu-img:
 * the header checks Kiln's image store makes before any host sees an image, and a reader that
 * turns a self-contained image into its raw guest bytes, in guest order, for a hypervisor that
 * cannot take QCOW2 (vSphere's flat VMDK). npm has no maintained QCOW2 reader, and Kiln's machine
 * need not have qemu-img, so the few rules it takes are here.
 *
 * What is read: versions 2 and 3, standard and all-zero clusters, deflate-compressed clusters.
 * What is refused, with the reason: a backing file or an external data file (either can name a
 * file on the host, see main/engine/images/image-check.ts), encryption, zstd compression,
 * extended L2 entries (subclusters), and an image marked corrupt.
 */
import { Readable } from 'node:stream';
import { inflateRawSync } from 'node:zlib';
import { DriverError, type StoredImage } from '../types.js';

const MAGIC = 0x514649fb; // "QFI\xfb"
/** Incompatible feature bits (v3): dirty (1) only means refcounts may be stale, which a reader ignores. */
const CORRUPT = 2n;
const EXTERNAL_DATA = 4n;
const COMPRESSION_TYPE = 8n;
const EXTENDED_L2 = 16n;
const KNOWN_INCOMPATIBLE = 1n | CORRUPT | EXTERNAL_DATA | COMPRESSION_TYPE | EXTENDED_L2;
/** Bits 9–55 of an L1 or standard L2 entry: the host offset of the table or cluster. */
const OFFSET_MASK = 0x00fffffffffffe00n;
const COMPRESSED = 1n << 62n;
const ALL_ZERO = 1n;

/** The header bytes a check needs: version 3's fixed header up to and past its compression type byte (offset 104). */
export const QCOW2_HEADER_BYTES = 112;

export interface Qcow2Header {
  version: 2 | 3;
  clusterBits: number;
  /** The guest's disk size, in bytes. */
  virtualSize: number;
  l1Size: number;
  l1Offset: number;
}

/** Does HEAD start like a QCOW2 image? */
export function isQcow2(head: Buffer): boolean {
  return head.length >= 4 && head.readUInt32BE(0) === MAGIC;
}

/**
 * The header of a self-contained QCOW2 image, or an Error saying why Kiln does not take it.
 * FOR is what the image is checked for: 'store' (a host's qemu reads it: backing and external
 * data files are the danger) or 'convert' (this module reads its clusters, so it must also
 * understand every one of them).
 */
export function readQcow2Header(head: Buffer, purpose: 'store' | 'convert' = 'convert'): Qcow2Header {
  if (!isQcow2(head) || head.length < 72) throw new Error('the file is not a QCOW2 image (no QFI\\xfb header)');
  const version = head.readUInt32BE(4);
  if (version !== 2 && version !== 3) throw new Error(`unsupported QCOW2 version ${version}`);
  if (head.readBigUInt64BE(8) !== 0n) throw new Error('the QCOW2 image names a backing file; Kiln accepts only self-contained images');
  const incompatible = version === 3 && head.length >= 80 ? head.readBigUInt64BE(72) : 0n;
  if (incompatible & EXTERNAL_DATA) throw new Error('the QCOW2 image keeps its data in an external file; Kiln accepts only self-contained images');
  const header: Qcow2Header = {
    version,
    clusterBits: head.readUInt32BE(20),
    virtualSize: Number(head.readBigUInt64BE(24)),
    l1Size: head.readUInt32BE(36),
    l1Offset: Number(head.readBigUInt64BE(40)),
  };
  if (purpose === 'store') return header;
  if (header.clusterBits < 9 || header.clusterBits > 21) throw new Error(`the QCOW2 image has an invalid cluster size (2^${header.clusterBits} bytes)`);
  if (head.readUInt32BE(32) !== 0) throw new Error('the QCOW2 image is encrypted; Kiln cannot read it');
  if (incompatible & CORRUPT) throw new Error('the QCOW2 image is marked corrupt; repair it with qemu-img check -r all first');
  if (incompatible & EXTENDED_L2) throw new Error('the QCOW2 image uses extended L2 entries (subclusters), which Kiln cannot convert; convert it with qemu-img convert -O qcow2 first');
  if (incompatible & ~KNOWN_INCOMPATIBLE) throw new Error(`the QCOW2 image has incompatible features Kiln does not know (0x${incompatible.toString(16)})`);
  if (incompatible & COMPRESSION_TYPE && head.length > 104 && head[104] !== 0) throw new Error('the QCOW2 image is zstd-compressed; Kiln converts only deflate-compressed or uncompressed images');
  // Each L1 entry covers cluster/8 clusters: the table must cover the disk.
  const perL2 = 2 ** (header.clusterBits - 3);
  if (header.l1Size * perL2 * 2 ** header.clusterBits < header.virtualSize) throw new Error('the QCOW2 image has an L1 table smaller than its disk');
  return header;
}

/** Reads LENGTH bytes at POSITION of the image file (short only past its end). */
export type ReadAt = (position: number, length: number) => Promise<Buffer>;

/**
 * The guest's bytes of a QCOW2 image, from byte 0 to its virtual size, one cluster at a time:
 * unallocated and all-zero clusters as zeros, compressed ones inflated. Memory stays at one L2
 * table and one cluster, whatever the disk's size.
 */
export function qcow2RawStream(readAt: ReadAt, header: Qcow2Header): Readable {
  return Readable.from(rawClusters(readAt, header), { objectMode: false });
}

async function* rawClusters(readAt: ReadAt, h: Qcow2Header): AsyncGenerator<Buffer> {
  const clusterSize = 2 ** h.clusterBits;
  const perL2 = clusterSize / 8;
  const zeros = Buffer.alloc(clusterSize);
  const l1 = await readExactly(readAt, h.l1Offset, h.l1Size * 8, 'the L1 table');
  let left = h.virtualSize;
  for (let i = 0; i < h.l1Size && left > 0; i++) {
    const l2Offset = Number(l1.readBigUInt64BE(i * 8) & OFFSET_MASK);
    const l2 = l2Offset === 0 ? undefined : await readExactly(readAt, l2Offset, clusterSize, `L2 table ${i}`);
    for (let j = 0; j < perL2 && left > 0; j++) {
      const cluster = l2 ? await readCluster(readAt, h, l2.readBigUInt64BE(j * 8), zeros) : zeros;
      const take = Math.min(clusterSize, left);
      left -= take;
      yield take === clusterSize ? cluster : cluster.subarray(0, take);
    }
  }
}

async function readCluster(readAt: ReadAt, h: Qcow2Header, entry: bigint, zeros: Buffer): Promise<Buffer> {
  const clusterSize = 2 ** h.clusterBits;
  if (entry & COMPRESSED) {
    // Compressed: the low x bits are the host offset, the next bits the count of further 512-byte sectors.
    const x = BigInt(62 - (h.clusterBits - 8));
    const offset = Number(entry & ((1n << x) - 1n));
    const sectors = Number((entry >> x) & ((1n << BigInt(h.clusterBits - 8)) - 1n)) + 1;
    const length = sectors * 512 - (offset % 512);
    const packed = await readAt(offset, length);
    const out = inflateRawSync(packed, { finishFlush: 2 /* Z_SYNC_FLUSH: the last sector is padded */, maxOutputLength: clusterSize });
    if (out.length > clusterSize) throw new Error('a compressed QCOW2 cluster inflates past its cluster');
    return out.length === clusterSize ? out : Buffer.concat([out, zeros.subarray(out.length)]);
  }
  if (h.version === 3 && entry & ALL_ZERO) return zeros;
  const offset = Number(entry & OFFSET_MASK);
  if (offset === 0) return zeros; // unallocated, and there is no backing file to read through to
  const data = await readAt(offset, clusterSize);
  // The image's last cluster may end short of a full cluster in the file.
  return data.length === clusterSize ? data : Buffer.concat([data, zeros.subarray(data.length)]);
}

async function readExactly(readAt: ReadAt, position: number, length: number, what: string): Promise<Buffer> {
  const data = await readAt(position, length);
  if (data.length < length) throw new Error(`the QCOW2 image ends inside ${what}`);
  return data;
}

/**
 * A QCOW2 image of Kiln's store as the raw guest disk it holds, for a driver whose hypervisor
 * imports only raw bytes: its virtual size and a stream of those bytes. The image must come
 * with readAt (the tables are read where they lie); a header Kiln does not convert is 'invalid'.
 */
export async function qcow2AsRaw(image: StoredImage): Promise<{ sizeBytes: number; open(): Readable }> {
  const readAt = image.readAt;
  if (!readAt) throw new DriverError(`${image.name}: this image store gives no random access, which converting QCOW2 needs`, 'unsupported');
  let header: Qcow2Header;
  try {
    header = readQcow2Header(await readAt(0, QCOW2_HEADER_BYTES));
  } catch (e) {
    throw new DriverError(`${image.name}: ${(e as Error).message}`, 'invalid');
  }
  return { sizeBytes: header.virtualSize, open: () => qcow2RawStream(readAt, header) };
}
