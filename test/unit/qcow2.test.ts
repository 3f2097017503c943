/**
 * drivers/common/qcow2.ts against QEMU's own qemu-img (qemu-utils, which the KVM test hosts
 * install): images qemu-img writes (v2 and v3, small and large clusters, compressed, with holes
 * and zeroed ranges) read back as exactly the raw bytes qemu-img converted from, and the images
 * Kiln must refuse are refused with their reason.
 */
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, openSync, readFileSync, rmSync, writeFileSync, writeSync, closeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readFileAt } from '../../main/engine/images/staging.js';
import { QCOW2_HEADER_BYTES, qcow2RawStream, readQcow2Header, type ReadAt } from '../../drivers/common/qcow2.js';

const hasQemuImg = (() => {
  try {
    execFileSync('qemu-img', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    // With the real components up (CI), a missing qemu-img is a failure, not a skip.
    return process.env['KILN_REQUIRE_REAL'] === '1';
  }
})();
const dir = mkdtempSync(join(tmpdir(), 'kiln-qcow2-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const MiB = 1024 * 1024;
/** A 7 MiB + 3 KiB disk (not a whole number of clusters): random data, a hole, a run of text (compressible), a zeroed range and random data at the very end. */
function rawDisk(): string {
  const file = join(dir, 'disk.raw');
  const size = 7 * MiB + 3 * 1024;
  writeFileSync(file, Buffer.alloc(0));
  const fd = openSync(file, 'r+');
  writeSync(fd, randomBytes(MiB + 4096), 0, MiB + 4096, 0);
  writeSync(fd, Buffer.from('kiln '.repeat(200_000)), 0, 1_000_000, 3 * MiB);
  writeSync(fd, randomBytes(2048), 0, 2048, size - 2048);
  closeSync(fd);
  return file;
}
const raw = hasQemuImg ? rawDisk() : '';

const fileReader = (file: string): ReadAt => (position, length) => readFileAt(file, position, length);

async function converted(file: string): Promise<{ sha256: string; bytes: number }> {
  const readAt = fileReader(file);
  const header = readQcow2Header(await readAt(0, QCOW2_HEADER_BYTES));
  const hash = createHash('sha256');
  let bytes = 0;
  for await (const chunk of qcow2RawStream(readAt, header)) {
    hash.update(chunk as Buffer);
    bytes += (chunk as Buffer).length;
  }
  return { sha256: hash.digest('hex'), bytes };
}

function qemuImg(name: string, args: string[]): string {
  const out = join(dir, name);
  execFileSync('qemu-img', ['convert', '-q', '-f', 'raw', '-O', 'qcow2', ...args, raw, out]);
  return out;
}

describe.skipIf(!hasQemuImg)('QCOW2 to raw, as qemu-img wrote it', () => {
  const expected = () => ({ sha256: createHash('sha256').update(readFileSync(raw)).digest('hex'), bytes: readFileSync(raw).length });

  it.each([
    ['v3, 64 KiB clusters', 'v3.qcow2', ['-o', 'compat=1.1']],
    ['v2 (compat 0.10)', 'v2.qcow2', ['-o', 'compat=0.10']],
    ['v3, 4 KiB clusters (several L2 tables)', 'small.qcow2', ['-o', 'cluster_size=4096']],
    ['v3, 2 MiB clusters', 'large.qcow2', ['-o', 'cluster_size=2M']],
    ['compressed (deflate)', 'compressed.qcow2', ['-c']],
    ['compressed with 4 KiB clusters', 'compressed-small.qcow2', ['-c', '-o', 'cluster_size=4096']],
  ])('%s reads back as the raw disk, byte for byte', async (_what, name, args) => {
    expect(await converted(qemuImg(name, args))).toEqual(expected());
  });

  it('reads all-zero clusters (qemu-img write_zeroes on a v3 image) as zeros', async () => {
    const file = qemuImg('zeroed.qcow2', ['-o', 'compat=1.1']);
    execFileSync('qemu-io', ['-f', 'qcow2', '-c', 'write -z 0 64k', file], { stdio: 'ignore' });
    const rawCopy = join(dir, 'zeroed.raw');
    execFileSync('qemu-img', ['convert', '-q', '-f', 'qcow2', '-O', 'raw', file, rawCopy]);
    const want = readFileSync(rawCopy);
    expect(want.subarray(0, 65536).every((b) => b === 0)).toBe(true);
    expect(await converted(file)).toEqual({ sha256: createHash('sha256').update(want).digest('hex'), bytes: want.length });
  });
});

describe.skipIf(!hasQemuImg)('QCOW2 images Kiln does not convert', () => {
  const header = (file: string) => readQcow2Header(readFileSync(file).subarray(0, QCOW2_HEADER_BYTES));

  it('refuses a backing file, extended L2 entries and zstd compression, each with its reason', () => {
    const backed = join(dir, 'backed.qcow2');
    execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', '-F', 'raw', '-b', raw, backed]);
    expect(() => header(backed)).toThrow('the QCOW2 image names a backing file; Kiln accepts only self-contained images');
    expect(() => header(qemuImg('ext-l2.qcow2', ['-o', 'extended_l2=on']))).toThrow(/extended L2 entries \(subclusters\)/);
    let zstd: string | undefined;
    try {
      zstd = qemuImg('zstd.qcow2', ['-c', '-o', 'compression_type=zstd']);
    } catch {
      // This qemu-img was built without zstd.
    }
    if (zstd) expect(() => header(zstd)).toThrow(/zstd-compressed/);
  });

  it('refuses an encrypted image, one marked corrupt, and a file that is not QCOW2', () => {
    const head = Buffer.from(readFileSync(qemuImg('plain.qcow2', ['-o', 'compat=1.1'])).subarray(0, QCOW2_HEADER_BYTES));
    const encrypted = Buffer.from(head);
    encrypted.writeUInt32BE(2, 32); // crypt_method LUKS
    expect(() => readQcow2Header(encrypted)).toThrow('the QCOW2 image is encrypted; Kiln cannot read it');
    const corrupt = Buffer.from(head);
    corrupt.writeBigUInt64BE(2n, 72);
    expect(() => readQcow2Header(corrupt)).toThrow(/marked corrupt/);
    // The store's check (a host's qemu reads the image) does not need to understand every cluster.
    expect(readQcow2Header(corrupt, 'store').virtualSize).toBe(7 * MiB + 3 * 1024);
    expect(() => readQcow2Header(readFileSync(raw).subarray(0, QCOW2_HEADER_BYTES))).toThrow('the file is not a QCOW2 image (no QFI\\xfb header)');
  });
});
