/**
 * A self-contained scratch copy of a disk image on the host that has it, to stream elsewhere
 * through Kiln's SSH connection: `qemu-img convert` reads the image and its backing chain into a
 * new qcow2 in a directory made with mktemp, whose size and SHA-256 come back with it. The
 * receiving host checks that SHA-256 on arrival (storage.ts uploadImage). Serves importVm from an
 * external host (import.ts) and a stopped VM's disks moved to another Kiln host (host-volume-move.ts).
 */
import { PassThrough, type Readable } from 'node:stream';
import { DriverError } from '../types.js';
import { command, script } from './shell.js';
import type { SshConnection } from './ssh-connection.js';

/** Makes the scratch copy of one disk: prints "DIR SIZE SHA256". $1 is the source image (from the domain's own XML). */
const EXPORT_SCRIPT = `set -e
dir=$(mktemp -d "\${TMPDIR:-/var/tmp}/kiln-export.XXXXXX")
trap 'rm -rf "$dir"' EXIT
qemu-img convert -O qcow2 -- "$1" "$dir/disk.qcow2"
size=$(stat -c %s "$dir/disk.qcow2")
sum=$(sha256sum "$dir/disk.qcow2" | cut -d' ' -f1)
trap - EXIT
printf '%s %s %s\\n' "$dir" "$size" "$sum"`;

/** The scratch directory names EXPORT_SCRIPT makes; anything else is never passed to rm. */
const SCRATCH_DIR = /^\/[A-Za-z0-9._/-]*\/kiln-export\.[A-Za-z0-9]{6}$/;

export interface ScratchCopy {
  sizeBytes: number;
  sha256: string;
  /** The copy's bytes, read from the start over a channel of SSH. */
  open(): Readable;
  /** Deletes the scratch directory (the source image is never touched). */
  remove(): Promise<void>;
}

/** Copies IMAGEPATH on SSH's host into a scratch qcow2; WHAT names the disk in a failure. */
export async function scratchCopy(ssh: SshConnection, imagePath: string, what: string): Promise<ScratchCopy> {
  const result = await ssh.exec(script(EXPORT_SCRIPT, [imagePath]), { timeoutMs: 3_600_000 });
  const [dir, size, sha256] = result.stdout.trim().split(/\s+/);
  if (result.code !== 0 || !dir || !SCRATCH_DIR.test(dir) || !/^\d+$/.test(size ?? '') || !/^[0-9a-f]{64}$/.test(sha256 ?? '')) {
    throw new DriverError(`cannot copy ${what}: ${result.stderr.trim() || result.stdout.trim() || `exit ${result.code}`}`, 'failed');
  }
  const file = `${dir}/disk.qcow2`;
  return {
    sizeBytes: Number(size),
    sha256: sha256!,
    open() {
      const out = new PassThrough();
      ssh.openChannel(command(['cat', '--', file])).then(
        (channel) => {
          channel.stderr.resume();
          channel.pipe(out);
        },
        (error: unknown) => out.destroy(error instanceof Error ? error : new Error(String(error))),
      );
      return out;
    },
    async remove() {
      await ssh.exec(command(['rm', '-rf', '--', dir]));
    },
  };
}
