/**
 * The KVM backup facet, after CloudStack 4.20's NAS provider: each disk of a VM written as a
 * qcow2 file into a backup store, `<store>/<vm uuid>/<backup uuid>/`: the host's own
 * (`/var/lib/kiln/backups`), or a backup repository on another machine, mounted on the host for
 * the work (backup-store.ts). libvirt's own files of a running backup (its documents, snapshot
 * overlays, a push target for a repository) are in a staging directory on the host.
 *
 * - A running VM, full backup: a checkpoint (libvirt's record of a dirty bitmap per disk, which the
 *   next incremental builds on), then an external disk-only snapshot: the VM writes into overlays
 *   while `qemu-img convert` copies its quiescent disks into the store, then the overlays are
 *   committed back (`blockcommit --active --shallow --pivot`). That copy runs as fast as a plain
 *   qemu-img convert (P11); libvirt's backup job, push or pull, copies through the running QEMU,
 *   several times slower. The VM keeps running. One checkpoint is kept per VM: the newest backup's.
 * - A running VM, incremental: libvirt's backup job (`virsh backup-begin`, push mode) with
 *   `<incremental>`: only the clusters written since the parent's checkpoint.
 * - A stopped VM: its disks are quiescent, so `qemu-img convert` copies them as they are (a full
 *   backup; an incremental needs the running VM's dirty bitmap).
 * - Every file is written as `N.qcow2.part`, checked (`qemu-img check`, its virtual size, its
 *   checksum: POSIX `cksum`, a CRC that reads 512 MiB in a fraction of a second where SHA-256 takes
 *   seconds) and only then renamed; the directory gets its `COMPLETE` manifest last. A backup cut
 *   short (a killed engine, a lost connection) never looks complete, and `discard` removes it
 *   (committing a snapshot overlay back first).
 * - A restore rebuilds the chain: each incremental is copied aside and given the previous file
 *   as its backing file (`qemu-img rebase -u`), the top is converted into a hidden file beside the
 *   target disk; once every disk of the restore is written (and the caller has recorded that the
 *   renames begin), each is renamed over its target, one command each. finishRestore does the
 *   renames still to do after a restore cut short during them; discardRestore undoes one cut
 *   short before them.
 * - A full backup's overlays are committed back whether the VM still runs (blockcommit) or its
 *   guest powered off meanwhile (qemu-img commit, the definition pointed at the disk again); a
 *   stopped domain that still names an overlay at its next define gets it committed first.
 *
 * Every command goes through shell.ts (`command`, `script`); store paths are built from uuids only.
 */
import { DriverError, type BackupDiskFile, type BackupFacet, type BackupRequest, type BackupResult, type OperationOptions } from '../types.js';
import type { ParsedDomain } from './domain-xml.js';
import { LOCAL_STORE, probeRepository, withMountedStore, withStoreShell } from './backup-store.js';
import { command, script } from './shell.js';
import { PID_RECORD } from './pid-record.js';
import { createVolume, deleteVolume, findVolume, isPath, type HostStorage } from './storage.js';
import { parsePoolXml } from './resource-xml.js';
import { attr, buildXml, child, children, parseXml, type XmlNode } from './xml.js';
import { virshError } from './virsh.js';
import { crashPoint } from '../common/crash-point.js';

/** The host's own store; a backup repository is mounted elsewhere (backup-store.ts). */
export const BACKUP_STORE = LOCAL_STORE;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** libvirt's job is polled quickly at first (a small disk's job ends in a moment), then less often. */
const POLL_MS = [50, 100, 200, 300];
/** A copy of a whole disk may take long (a large disk, a slow link to a repository). */
const COPY_TIMEOUT_MS = 6 * 3_600_000;

/** What the facet needs of its session. */
export interface KvmBackupHost {
  readonly pools: HostStorage;
  readonly defaultPool: string;
  domain(name: string, inactive?: boolean): Promise<ParsedDomain>;
  isActive(name: string): Promise<boolean>;
}

function id(value: string, what: string): string {
  if (!UUID.test(value)) throw new DriverError(`${what} must be a uuid, not "${value}"`, 'invalid');
  return value.toLowerCase();
}

/** A backup's directory in the store at ROOT (the local store, a mounted repository, or a repository's own path). */
function backupDir(root: string, vmId: string, backupId: string): string {
  return `${root}/${id(vmId, 'the VM id')}/${id(backupId, 'the backup id')}`;
}

/** A store-relative file name back to its path under ROOT, refusing anything that is not one of ours. */
function storePath(root: string, file: string): string {
  if (!/^[0-9a-f-]{36}\/[0-9a-f-]{36}\/\d+\.qcow2$/.test(file)) throw new DriverError(`not a backup store file: ${file}`, 'invalid');
  return `${root}/${file}`;
}

/** Where libvirt's files of a backup into a repository are, on the VM's host, while it runs. */
function stagingDir(vmId: string, backupId: string): string {
  return backupDir(`${BACKUP_STORE}/.staging`, vmId, backupId);
}

/** The overlay a running VM writes into while a full backup copies its disk (at DISK's position). */
function overlayPath(vmId: string, backupId: string, disk: number): string {
  return `${stagingDir(vmId, backupId)}/${disk}.overlay.qcow2`;
}

/** Removes a backup's staging directory, and the VM's staging directory once empty. */
const CLEAR_STAGING = 'rm -rf -- "$1"; rmdir -- "${1%/*}" 2>/dev/null; true';
function stagingArgs(vmId: string, backupId: string): string[] {
  return [stagingDir(vmId, backupId)];
}
function clearStaging(vmId: string, backupId: string): string {
  return script(CLEAR_STAGING, stagingArgs(vmId, backupId));
}

function checkpointName(backupId: string): string {
  return `kiln-${id(backupId, 'the backup id')}`;
}

/** libvirt's job statistics (`virsh domjobinfo`), as key → value. */
function parseJobInfo(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const at = line.indexOf(':');
    if (at > 0) out[line.slice(0, at).trim()] = line.slice(at + 1).trim();
  }
  return out;
}

function bytesOf(value: string | undefined): number {
  const match = /^([\d.]+)\s*(B|KiB|MiB|GiB|TiB)?/.exec(value ?? '');
  if (!match) return 0;
  const scale = { B: 1, KiB: 1024, MiB: 1024 ** 2, GiB: 1024 ** 3, TiB: 1024 ** 4 }[match[2] ?? 'B'] ?? 1;
  return Math.round(Number(match[1]) * scale);
}

/** Checks a written file and renames it into place: a qcow2 that qemu-img accepts, of the disk's size. Prints "bytes checksum". */
const VERIFY = `set -e
part="$1"; final="$2"; want="$3"
# libvirt names the VM's disk as the backup target's backing file; a backup file stands alone (a
# full one holds every cluster, an incremental gets its parent as backing only at restore).
qemu-img rebase -u -f qcow2 -b "" "$part"
qemu-img check -q -f qcow2 "$part"
size=$(qemu-img info --output=json -f qcow2 "$part" | sed -n 's/.*"virtual-size": *\\([0-9]*\\).*/\\1/p' | head -n1)
[ "$size" = "$want" ] || { echo "backup of $final is $size bytes, its disk $want" >&2; exit 3; }
sum=$(cksum < "$part" | tr ' ' :)
mv -f "$part" "$final"
echo "$(stat -c %s "$final") $sum"`;

/**
 * Rebuilds a chain beside TARGET, as the hidden file a rename later puts over it (restoreDisks):
 * $1 target, $2 work dir, then the chain's files (full first) and their sums. Prints "hidden size".
 */
const RESTORE = `set -e
${PID_RECORD}
target="$1"; work="$2"; shift 2
n=$(( $# / 2 ))
hidden="$(dirname "$target")/.kiln-restore-$(basename "$target").part"
# Who writes the hidden file: a restore cut short (a killed engine) is stopped by discardRestore,
# which would otherwise race this script still running on the host. Each line "pid identity"
# (pid-record.ts): after a reboot the pid may be another process, even another kiln-restore.
pids="$hidden.pids"
echo "$$ $(kiln_pid_id $$)" > "$pids"
mkdir -p "$work"
trap 'rm -rf "$work" "$pids"' EXIT
trap 'exit 143' HUP TERM
i=0; prev=""
while [ $i -lt $n ]; do
  file="$1"; sum="$2"; shift 2
  [ "$(cksum < "$file" | tr ' ' :)" = "$sum" ] || { echo "backup file $file does not match its checksum" >&2; exit 4; }
  if [ -z "$prev" ]; then prev="$file"; else
    cp "$file" "$work/$i.qcow2"
    qemu-img rebase -u -f qcow2 -F qcow2 -b "$prev" "$work/$i.qcow2"
    prev="$work/$i.qcow2"
  fi
  i=$((i + 1))
done
qemu-img convert -f qcow2 -O qcow2 "$prev" "$hidden" &
echo "$! $(kiln_pid_id $!)" >> "$pids"
wait $!
echo "$hidden $(qemu-img info --output=json -f qcow2 "$hidden" | sed -n 's/.*"virtual-size": *\\([0-9]*\\).*/\\1/p' | head -n1)"`;

/**
 * Stops what RESTORE runs for each hidden file given (its processes, by the pids it wrote, each
 * only while it is still the process recorded: pid-record.ts) and removes the hidden files. A line
 * with a pid alone is an older Kiln's record (a restore cut short across an upgrade): checked by
 * its command line, as it was then.
 */
const DISCARD_RESTORE = `${PID_RECORD}
while [ $# -gt 1 ]; do
  hidden="$1"; work="$2"; shift 2
  if [ -f "$hidden.pids" ]; then
    while read -r p id; do
      if [ -n "$id" ]; then kiln_pid_is "$p" "$id" && kill "$p" 2>/dev/null
      else grep -qs kiln-restore "/proc/$p/cmdline" && kill "$p" 2>/dev/null; fi
    done < "$hidden.pids"
    sleep 0.2
  fi
  rm -rf -- "$hidden" "$hidden.pids" "$work"
done`;

/**
 * Commits the overlay $1 into its backing file (qemu-img's default: the overlay's own backing, the
 * VM's disk, not the template below it). Prints "backing-file format".
 */
const COMMIT_STOPPED = `set -e
[ -f "$1" ] || { echo missing; exit 0; }
info=$(qemu-img info --output=json -f qcow2 "$1")
base=$(printf '%s\\n' "$info" | sed -n 's/^ *"full-backing-filename": *"\\(.*\\)",\\{0,1\\}$/\\1/p' | head -n1)
format=$(printf '%s\\n' "$info" | sed -n 's/^ *"backing-filename-format": *"\\(.*\\)",\\{0,1\\}$/\\1/p' | head -n1)
[ -n "$base" ] || { echo "the overlay $1 has no backing file" >&2; exit 3; }
qemu-img commit -q -f qcow2 "$1"
echo "$base \${format:-qcow2}"`;

/** Renames $1 (a restored copy) over $2 when it is there; $3, RESTORE's work directory, goes either way. Prints "renamed" or "done". */
const RENAME_RESTORED = `if [ -f "$1" ]; then mv -f -- "$1" "$2" || exit 1; echo renamed; else echo done; fi
rm -rf -- "$1.pids" "$3"`;

/** The hidden file RESTORE writes beside a target disk. */
function restoreAside(targetPath: string): string {
  const at = targetPath.lastIndexOf('/');
  return `${targetPath.slice(0, at)}/.kiln-restore-${targetPath.slice(at + 1)}.part`;
}

/** RESTORE's work directory for a target disk (in the host's store, not in the disk's pool). */
function restoreWork(targetPath: string): string {
  return `${BACKUP_STORE}/.restore-${targetPath.slice(targetPath.lastIndexOf('/') + 1)}`;
}

/** Folds $1 (parent) into $2 (child): with $3 (grandparent) the child then builds on it, else it stands alone. Prints "bytes checksum". */
const MERGE = `set -e
parent="$1"; child="$2"; grand="$3"
if [ -n "$grand" ]; then
  qemu-img rebase -u -f qcow2 -F qcow2 -b "$grand" "$parent"
  qemu-img rebase -u -f qcow2 -F qcow2 -b "$parent" "$child"
  qemu-img rebase -f qcow2 -F qcow2 -b "$grand" "$child"
  qemu-img rebase -u -f qcow2 -b "" "$child"
else
  qemu-img rebase -u -f qcow2 -F qcow2 -b "$parent" "$child"
  qemu-img rebase -f qcow2 -b "" "$child"
fi
echo "$(stat -c %s "$child") $(cksum < "$child" | tr ' ' :)"`;

/** KVM's facet, plus what the session's define needs of it. */
export interface KvmBackupFacet extends BackupFacet {
  /**
   * Overlays a backup left in a stopped domain's definition (the guest powered off before their
   * commit, and no discard has run since): committed into its disks now, before a start
   * redefines the domain from Kiln's record and would leave them, and what was written into
   * them, behind.
   */
  commitLeftOverlays(vm: string): Promise<void>;
}

export function kvmBackup(host: KvmBackupHost): KvmBackupFacet {
  const { virsh } = host.pools;
  const ssh = virsh.ssh;
  const run = async (argv: string[], options?: { signal?: AbortSignal; timeoutMs?: number }) => {
    const result = await ssh.exec(command(argv), options);
    if (result.code !== 0) throw virshError(result.stderr, `${argv[0]} failed with exit status ${result.code ?? 'signal'}`);
    return result.stdout;
  };
  const runScript = async (body: string, args: string[], what: string) => {
    const result = await ssh.exec(script(body, args));
    if (result.code !== 0) throw new DriverError(`${what}: ${result.stderr.trim() || `exit status ${result.code ?? 'signal'}`}`, 'failed');
    return result.stdout.trim();
  };
  const checkpoints = async (vm: string): Promise<string[]> => {
    const result = await virsh.tryRun(['checkpoint-list', '--domain', vm, '--name']);
    return result.code === 0 ? result.stdout.split('\n').map((l) => l.trim()).filter(Boolean) : [];
  };
  const deleteCheckpoint = async (vm: string, name: string, metadataOnly = false) => {
    await virsh.tryRun(['checkpoint-delete', '--domain', vm, '--checkpointname', name, ...(metadataOnly ? ['--metadata'] : [])]);
  };
  /** Where volume NAME of POOL is, or would be (a directory pool's target path); undefined for a pool without one. */
  const poolPath = async (pool: string, name: string): Promise<string | undefined> => {
    const dir = parsePoolXml(await virsh.run(['pool-dumpxml', '--pool', pool])).path;
    return dir ? `${dir.replace(/\/+$/, '')}/${name}` : undefined;
  };
  const volumePath = async (disk: { name: string; pool?: string }) => {
    const volume = await findVolume(host.pools, disk.pool ?? host.defaultPool, disk.name);
    if (!volume) throw new DriverError(`volume ${disk.name} not found in pool ${disk.pool ?? host.defaultPool}`, 'not-found');
    return volume;
  };

  /** Waits for the domain's backup job, reporting its progress; aborts it on the signal. */
  const waitForJob = async (vm: string, options?: OperationOptions) => {
    let polls = 0;
    for (;;) {
      if (options?.signal?.aborted) {
        await virsh.tryRun(['domjobabort', '--domain', vm]);
        throw new DriverError('the backup was cancelled', 'timeout');
      }
      const info = parseJobInfo(await virsh.run(['domjobinfo', '--domain', vm]));
      if ((info['Job type'] ?? 'None') === 'None') break;
      const total = bytesOf(info['Data total']);
      if (total > 0) options?.onProgress?.(Math.min(99, Math.floor((bytesOf(info['Data processed']) / total) * 100)));
      await new Promise((resolve) => setTimeout(resolve, POLL_MS[Math.min(polls++, POLL_MS.length - 1)]));
    }
    const done = await virsh.tryRun(['domjobinfo', '--domain', vm, '--completed']);
    const info = parseJobInfo(done.stdout);
    if (done.code === 0 && info['Job type'] && info['Job type'] !== 'Completed') {
      throw new DriverError(`libvirt's backup job of ${vm} ended ${info['Job type']}${info['Error message'] ? `: ${info['Error message']}` : ''}`, 'failed');
    }
  };

  /** Whether the VM's disks are (still) an overlay a full backup made in its staging directory. */
  const runsOnOverlay = async (vm: string, vmId: string, backupId: string): Promise<boolean> => {
    const staging = `${stagingDir(vmId, backupId)}/`;
    return (await host.domain(vm)).disks.some((d) => d.path?.startsWith(staging));
  };

  /**
   * A stopped VM's overlays under PREFIX (the guest powered off during a backup, or before the
   * discard of one cut short): each is committed into its backing file, the VM's disk, with
   * qemu-img; the persistent definition is pointed at the disk again and the overlay removed.
   * In that order, so a commit cut short is done again (the overlay is still in the definition)
   * and never loses what the guest wrote into it.
   */
  const commitStopped = async (vm: string, prefix: string): Promise<string[]> => {
    const committed: string[] = [];
    const xml = await virsh.run(['dumpxml', '--domain', vm, '--inactive']);
    for (const disk of children(child(child(parseXml(xml), 'domain'), 'devices'), 'disk')) {
      const overlay = attr(child(disk, 'source'), 'file');
      if (!overlay?.startsWith(prefix)) continue;
      const out = await runScript(COMMIT_STOPPED, [overlay], `committing the backup overlay ${overlay} of ${vm} (the VM is stopped)`);
      // An overlay already gone (removed by an older Kiln) holds nothing more: the definition names
      // the disk below it again, as libvirt recorded it, so the domain can start.
      const [base, format] = out === 'missing' ? [attr(child(child(disk, 'backingStore'), 'source'), 'file'), attr(child(child(disk, 'backingStore'), 'format'), 'type') ?? 'qcow2'] : out.split(' ');
      if (!base) throw new DriverError(`the backup overlay ${overlay} of ${vm} is gone and its definition does not say which disk was below it`, 'failed');
      const driver = child(disk, 'driver');
      const pointed: XmlNode = { ...disk, source: { ...(child(disk, 'source') ?? {}), '@_file': base }, ...(driver ? { driver: { ...driver, '@_type': format } } : {}) };
      // The overlay's chain is not the disk's own (libvirt reads that again at start).
      delete pointed['backingStore'];
      await virsh.run(['update-device', '--domain', vm, '--file', '/dev/stdin', '--config'], { stdin: buildXml({ disk: pointed }) });
      await run(['rm', '-f', '--', overlay]);
      committed.push(overlay);
    }
    return committed;
  };

  /**
   * Commits the overlays under PREFIX (a full backup's, in its staging directory) back into the
   * VM's disks, so the VM runs (or starts) on its disks again with every write it made meanwhile:
   * a running VM's live (--shallow: into the overlay's own backing file, the VM's disk; without it
   * libvirt commits into the bottom of the chain, the template every linked clone shares), a
   * stopped one's with qemu-img (commitStopped), also when the guest powers off during the commit.
   * Resolves to how: 'offline' when any was committed while the VM was stopped (the disks' dirty
   * bitmaps may then have missed those writes: callers forget the checkpoints).
   */
  const commitOverlays = async (vm: string, prefix: string): Promise<'none' | 'live' | 'offline'> => {
    let how: 'none' | 'live' | 'offline' = 'none';
    for (let pass = 0; pass < 4; pass++) {
      let active: boolean;
      try {
        active = await host.isActive(vm);
      } catch (error) {
        // No domain (an expunged VM): nothing runs on an overlay.
        if (error instanceof DriverError && error.category === 'not-found') return how;
        throw error;
      }
      const left = (await host.domain(vm, !active)).disks.filter((d) => d.path?.startsWith(prefix));
      if (left.length === 0) return how;
      if (!active) {
        await commitStopped(vm, prefix);
        how = 'offline';
        continue;
      }
      try {
        for (const d of left) await virsh.run(['blockcommit', '--domain', vm, '--path', d.target, '--active', '--shallow', '--pivot', '--wait'], { timeoutMs: COPY_TIMEOUT_MS });
        if (how === 'none') how = 'live';
      } catch (error) {
        // The guest powered off meanwhile: the next pass commits what is left while it is stopped.
        if (await host.isActive(vm).catch(() => true)) throw error;
      }
    }
    throw new DriverError(`the backup overlays of ${vm} are still in its definition after committing them`, 'failed');
  };

  /** After an offline commit: libvirt's checkpoints (what incrementals build on) may not hold its writes; they go, so the next backup is full. */
  const forgetAllCheckpoints = async (vm: string) => {
    for (const name of await checkpoints(vm)) if (name.startsWith('kiln-')) await deleteCheckpoint(vm, name, true);
  };

  /**
   * Renames each target's restored copy (RESTORE's hidden file beside it) over it, one rename per
   * command, where the copy is still there: the same call finishes the renames of a restore cut
   * short during them. Returns how many it renamed.
   */
  const renameRestored = async (paths: string[]): Promise<number> => {
    let renamed = 0;
    for (const [i, path] of paths.entries()) {
      await crashPoint(`backup-restore-rename-${i + 1}`);
      const out = await runScript(RENAME_RESTORED, [restoreAside(path), path, restoreWork(path)], `putting the restored copy of ${path} in place`);
      if (out === 'renamed') renamed++;
    }
    return renamed;
  };

  /** Writes one backup into the store at ROOT (the local store, or a repository mounted there). */
  const createIn = async (root: string, vm: string, request: BackupRequest, options?: OperationOptions): Promise<BackupResult> => {
    const dir = backupDir(root, request.vmId, request.id);
    // libvirt's own files (its documents, a pull job's socket and scratch files, a push target
    // for a repository) are in a staging directory on the host: QEMU may not see a store mounted
    // after it started (it has its own mount namespace).
    const remote = root !== BACKUP_STORE;
    const jobDir = stagingDir(request.vmId, request.id);
    const running = await host.isActive(vm);
    const dom = await host.domain(vm, !running);
    const disks = await Promise.all(
      request.disks.map(async (disk, index) => {
        const volume = await volumePath(disk);
        const target = dom.disks.find((d) => d.device === 'disk' && d.path === volume.path)?.target;
        if (!target) throw new DriverError(`domain ${vm} has no disk ${disk.name}`, 'not-found');
        return { name: disk.name, path: volume.path, target, index, virtualSize: volume.capacityBytes };
      }),
    );
    const newCheckpoint = checkpointName(request.id);
    let method = 'qemu-img convert (stopped VM)';
    let mode: BackupResult['mode'] = 'full';
    let withCheckpoint = running;
    try {
      if (running) {
        const parentCheckpoint = request.parent?.checkpoint;
        const incremental = parentCheckpoint !== undefined && (await checkpoints(vm)).includes(parentCheckpoint);
        const ours = new Set(disks.map((d) => d.target));
        const others = dom.disks.filter((d) => d.device === 'disk' && !ours.has(d.target));
        const checkpointXml = buildXml({
          domaincheckpoint: {
            name: newCheckpoint,
            disks: { disk: [...disks.map((d) => ({ '@_name': d.target, '@_checkpoint': 'bitmap' })), ...others.map((d) => ({ '@_name': d.target, '@_checkpoint': 'no' }))] },
          },
        });
        // quiescevm: the guest's file systems are frozen (its QEMU guest agent) only while the
        // backup's instant is taken (the job's start, or the snapshot), then thawed.
        const frozen = async <T>(work: () => Promise<T>): Promise<T> => {
          if (request.quiesce) {
            const done = await virsh.tryRun(['domfsfreeze', '--domain', vm]);
            if (done.code !== 0) throw new DriverError(`quiescevm needs the QEMU guest agent running in the guest: ${virshError(done.stderr, 'domfsfreeze failed').message}`, 'unsupported');
          }
          try {
            return await work();
          } finally {
            if (request.quiesce) await virsh.tryRun(['domfsthaw', '--domain', vm]);
          }
        };
        if (incremental) {
          // libvirt's backup job, with only the clusters written since the parent's checkpoint:
          // straight into the host's store, or on the host first and then copied into a
          // repository (it is small; QEMU may not see a store mounted after it started).
          mode = 'incremental';
          method = remote ? 'libvirt backup job, copied to the repository' : 'libvirt backup job';
          const target = (d: (typeof disks)[number]) => `${remote ? jobDir : dir}/${d.index}.qcow2.part`;
          const backupXml = buildXml({
            domainbackup: {
              '@_mode': 'push',
              incremental: parentCheckpoint,
              disks: {
                disk: [
                  ...disks.map((d) => ({ '@_name': d.target, '@_backup': 'yes', '@_type': 'file', target: { '@_file': target(d) }, driver: { '@_type': 'qcow2' } })),
                  ...others.map((d) => ({ '@_name': d.target, '@_backup': 'no' })),
                ],
              },
            },
          });
          // virsh reads both documents from files: they go to the job's directory first (one round trip).
          await runScript('mkdir -p "$1" "$4" && printf %s "$2" > "$1/backup.xml" && printf %s "$3" > "$1/checkpoint.xml"', [jobDir, backupXml, checkpointXml, dir], `preparing ${dir}`);
          await frozen(() => virsh.run(['backup-begin', '--domain', vm, '--backupxml', `${jobDir}/backup.xml`, '--checkpointxml', `${jobDir}/checkpoint.xml`]));
          await waitForJob(vm, options);
          if (remote) for (const d of disks) await run(['cp', '--sparse=always', '--', target(d), `${dir}/${d.index}.qcow2.part`], { signal: options?.signal, timeoutMs: COPY_TIMEOUT_MS });
        } else {
          // A full backup: the checkpoint first (what the next incremental builds on: a write
          // between it and the snapshot is in both, never in neither), then an external snapshot
          // of the disks, so that the VM writes into overlays on the host while qemu-img copies the
          // disks themselves, quiescent, into the store as fast as a plain qemu-img convert (P11;
          // libvirt's backup job copies through the running QEMU at a fraction of that speed);
          // last the overlays are committed back and the VM runs on its disks again.
          method = remote ? 'snapshot and qemu-img convert, streamed to the repository' : 'snapshot and qemu-img convert';
          await runScript('mkdir -p "$1" "$3" && printf %s "$2" > "$1/checkpoint.xml"', [jobDir, checkpointXml, dir], `preparing ${dir}`);
          const made = await virsh.tryRun(['checkpoint-create', '--domain', vm, '--xmlfile', `${jobDir}/checkpoint.xml`]);
          if (made.code !== 0) {
            // A disk that cannot keep a dirty bitmap (a qcow2 v2 image) still gets a live full backup, without a checkpoint.
            if (!/bitmap|checkpoint/i.test(made.stderr)) throw virshError(made.stderr, `cannot start the backup of ${vm}`);
            method += ', without a checkpoint (a disk cannot keep dirty bitmaps: qcow2 v2)';
            withCheckpoint = false;
          }
          await frozen(() =>
            virsh.run([
              'snapshot-create-as', '--domain', vm, '--disk-only', '--atomic', '--no-metadata',
              ...disks.flatMap((d) => ['--diskspec', `${d.target},file=${overlayPath(request.vmId, request.id, d.index)}`]),
              ...others.flatMap((d) => ['--diskspec', `${d.target},snapshot=no`]),
            ]),
          );
          try {
            for (const [n, d] of disks.entries()) {
              await run(['qemu-img', 'convert', '-U', '-O', 'qcow2', d.path, `${dir}/${d.index}.qcow2.part`], { signal: options?.signal, timeoutMs: COPY_TIMEOUT_MS });
              options?.onProgress?.(Math.floor(((n + 1) / disks.length) * 90));
            }
            await crashPoint('backup-commit');
          } finally {
            // The guest may have powered off during the copy: its writes are in the overlays all the same.
            if ((await commitOverlays(vm, `${jobDir}/`)) === 'offline') {
              await forgetAllCheckpoints(vm);
              withCheckpoint = false;
              method += ', its overlays committed while the VM was stopped (no checkpoint: the next backup is full)';
            }
          }
        }

      } else {
        await run(['mkdir', '-p', '--', dir]);
        for (const [n, d] of disks.entries()) {
          await run(['qemu-img', 'convert', '-O', 'qcow2', d.path, `${dir}/${d.index}.qcow2.part`], { signal: options?.signal, timeoutMs: COPY_TIMEOUT_MS });
          options?.onProgress?.(Math.floor(((n + 1) / disks.length) * 90));
        }
      }
      const files: BackupDiskFile[] = [];
      for (const d of disks) {
        const [bytes, checksum] = (await runScript(VERIFY, [`${dir}/${d.index}.qcow2.part`, `${dir}/${d.index}.qcow2`, String(d.virtualSize)], `verifying the backup of ${d.name}`)).split(' ');
        files.push({ name: d.name, file: `${id(request.vmId, 'vm')}/${id(request.id, 'backup')}/${d.index}.qcow2`, bytes: Number(bytes), virtualSize: d.virtualSize, checksum: checksum ?? '' });
      }
      // Last: the manifest that says the backup is whole.
      await runScript('rm -f "$1/backup.xml" "$1/checkpoint.xml" && printf %s "$2" > "$1/COMPLETE.tmp" && mv -f "$1/COMPLETE.tmp" "$1/COMPLETE"', [dir, JSON.stringify({ mode, method, files })], `finishing ${dir}`);
      await runScript(CLEAR_STAGING, stagingArgs(request.vmId, request.id), 'clearing the staging directory');
      // One checkpoint per VM: older ones (the parent's, one a deleted backup left) go once the new one exists.
      if (withCheckpoint) for (const old of await checkpoints(vm)) if (old.startsWith('kiln-') && old !== newCheckpoint) await deleteCheckpoint(vm, old);
      options?.onProgress?.(100);
      return { mode, method, checkpoint: withCheckpoint ? newCheckpoint : undefined, disks: files };
    } catch (error) {
      // A lost connection fails this too: the framework then keeps the backup to discard when the host is back.
      if (running) {
        await virsh.tryRun(['domjobabort', '--domain', vm]).catch(() => undefined);
        await deleteCheckpoint(vm, newCheckpoint).catch(() => undefined);
      }
      await ssh.exec(command(['rm', '-rf', '--', dir])).catch(() => undefined);
      // The staging directory may hold an overlay the VM still runs on (a commit that failed): it stays then.
      if (!(await runsOnOverlay(vm, request.vmId, request.id).catch(() => true))) await ssh.exec(clearStaging(request.vmId, request.id)).catch(() => undefined);
      throw error;
    }
  };

  /** Deletes a backup's directory where its files are (the repository itself, for one). */
  const removeFiles = (vmId: string, backupId: string, store: BackupRequest['store']) =>
    withStoreShell(ssh, store, async (shell) => {
      const dir = backupDir(shell.root, vmId, backupId);
      const result = await shell.exec(command(['rm', '-rf', '--', dir]));
      if (result.code !== 0) throw new DriverError(`removing ${dir}: ${result.stderr.trim()}`, 'failed');
    });

  return {
    create: (vm, request, options) => withMountedStore(ssh, request.store, (root) => createIn(root, vm, request, options)),

    async restoreDisks(disks, _options, store, beforeRenames) {
      if (disks.length === 0) return [];
      // A target that is not there yet (a volume restored as a new disk) is made here, and goes
      // again with what was written aside when the restore fails before its renames.
      const made: { name: string; pool: string }[] = [];
      const targets: { chain: BackupDiskFile[]; path: string }[] = [];
      const written: { aside: string; path: string; size: number }[] = [];
      try {
        for (const { chain, target } of disks) {
          if (chain.length === 0) throw new DriverError(`no backup files to restore ${target.name} from`, 'invalid');
          const last = chain[chain.length - 1]!;
          const pool = target.pool ?? host.defaultPool;
          let volume = await findVolume(host.pools, pool, target.name);
          if (!volume) {
            volume = await createVolume(host.pools, pool, { name: target.name, sizeBytes: last.virtualSize, device: 'disk' });
            made.push({ name: target.name, pool });
          }
          targets.push({ chain, path: volume.path });
        }
        await withMountedStore(ssh, store, async (root) => {
          for (const [i, t] of targets.entries()) {
            await crashPoint(`backup-restore-copy-${i + 1}`);
            const out = await runScript(RESTORE, [t.path, restoreWork(t.path), ...t.chain.flatMap((f) => [storePath(root, f.file), f.checksum])], `restoring ${t.path}`);
            const [aside, size] = out.split(' ');
            if (aside !== restoreAside(t.path)) throw new DriverError(`restoring ${t.path}: unexpected output ${out}`, 'failed');
            written.push({ aside, path: t.path, size: Number(size) });
          }
        });
        // The caller records that the renames begin: from here on, a restore cut short is finished, not undone.
        await beforeRenames?.();
      } catch (error) {
        if (targets.length > 0) await ssh.exec(command(['rm', '-f', '--', ...targets.map((t) => restoreAside(t.path))])).catch(() => undefined);
        for (const m of made) await deleteVolume(host.pools, m.pool, m.name).catch(() => undefined);
        throw error;
      }
      // Every disk is written: only now does each replace its target (one rename each).
      await renameRestored(written.map((w) => w.path));
      return written.map((w) => ({ virtualSize: w.size }));
    },

    async finishRestore(targets) {
      const paths: string[] = [];
      for (const target of targets) {
        const volume = await findVolume(host.pools, target.pool ?? host.defaultPool, target.name);
        if (!volume) throw new DriverError(`volume ${target.name} not found in pool ${target.pool ?? host.defaultPool}: cannot put its restored copy in place`, 'not-found');
        paths.push(volume.path);
      }
      return renameRestored(paths);
    },

    async discardRestore(targets) {
      const paths: string[] = [];
      for (const target of targets) {
        const pool = target.pool ?? host.defaultPool;
        // A target already deleted (its VM expunged meanwhile) still has its copy beside where it was.
        const path = (await findVolume(host.pools, pool, target.name))?.path ?? (isPath(target.name) ? target.name : await poolPath(pool, target.name));
        if (path) paths.push(restoreAside(path), restoreWork(path));
      }
      if (paths.length > 0) await runScript(DISCARD_RESTORE, paths, 'removing what an interrupted restore wrote');
    },

    async forgetCheckpoints(vm) {
      // The rewritten disks hold no bitmaps any more; libvirt's records of them go too.
      for (const name of await checkpoints(vm)) if (name.startsWith('kiln-')) await deleteCheckpoint(vm, name, true);
    },

    async merge(parent, child, grandparent, store) {
      return withMountedStore(ssh, store, async (root) => {
        const [bytes, checksum] = (await runScript(MERGE, [storePath(root, parent.file), storePath(root, child.file), grandparent ? storePath(root, grandparent.file) : ''], `merging ${parent.file} into ${child.file}`)).split(' ');
        return { ...child, bytes: Number(bytes), checksum: checksum ?? '' };
      });
    },

    async remove(vmId, backupId, vm, store) {
      if (vm?.checkpoint && (await checkpoints(vm.ref)).includes(vm.checkpoint)) await deleteCheckpoint(vm.ref, vm.checkpoint);
      await removeFiles(vmId, backupId, store);
    },

    async inspect(vmId, backupId, store) {
      return withStoreShell(ssh, store, async (shell) => {
        const dir = backupDir(shell.root, vmId, backupId);
        const result = await shell.exec(script('[ -f "$1/COMPLETE" ] || { echo missing; exit 0; }; stat -c %s "$1"/*.qcow2 | awk \'{ s += $1 } END { print s + 0 }\'', [dir]));
        if (result.code !== 0) throw new DriverError(`reading ${dir}: ${result.stderr.trim()}`, 'failed');
        const out = result.stdout.trim();
        return out === 'missing' ? { present: false, bytes: 0 } : { present: true, bytes: Number(out) };
      });
    },

    async discard(vmId, backupId, vm, store) {
      // The host's part first (libvirt's job outlives the engine that started it, and writes into
      // the directory that goes next); the files go even when the host cannot be reached, when
      // they are on a repository.
      let hostError: unknown;
      try {
        if (vm && (await host.isActive(vm))) {
          const info = parseJobInfo(await virsh.run(['domjobinfo', '--domain', vm]));
          if ((info['Job type'] ?? 'None') !== 'None') await virsh.tryRun(['domjobabort', '--domain', vm]);
        }
        // A full backup cut short between its snapshot and the commit: the VM runs on the overlay,
        // or was shut down on it (its definition still names it): either way its writes are
        // there, and go into its disks before the staging directory goes.
        if (vm && (await commitOverlays(vm, `${stagingDir(vmId, backupId)}/`)) === 'offline') await forgetAllCheckpoints(vm);
        if (vm) await deleteCheckpoint(vm, checkpointName(backupId));
        await runScript(CLEAR_STAGING, stagingArgs(vmId, backupId), 'clearing the staging directory');
      } catch (error) {
        hostError = error;
      }
      await removeFiles(vmId, backupId, store);
      if (hostError) throw hostError;
    },

    probeStore: (store) => probeRepository(store),

    async commitLeftOverlays(vm) {
      const staging = `${BACKUP_STORE}/.staging/`;
      if (await host.isActive(vm)) return;
      if (!(await host.domain(vm, true)).disks.some((d) => d.path?.startsWith(staging))) return;
      const committed = await commitStopped(vm, staging);
      await forgetAllCheckpoints(vm);
      // Their backup's staging directory (and the VM's, once empty) goes too, unless something else is still in it.
      for (const overlay of committed) await ssh.exec(script('d="${1%/*}"; rm -f -- "$d/checkpoint.xml" "$d/backup.xml"; rmdir -- "$d" "${d%/*}" 2>/dev/null; true', [overlay])).catch(() => undefined);
    },
  };
}
