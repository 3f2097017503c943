/**
 * Where a backup's files live, seen from the VM's host (backup.ts works in whichever it is given):
 *
 * - the host's own store, /var/lib/kiln/backups, when no repository is named;
 * - a backup repository: another machine reached over SSH, whose store is Kiln's own directory
 *   `kiln-backups` in the SSH user's home (never a path a user names; the account needs no root).
 *   Its host key is pinned: learned when the repository is added (probe), refused if it changes.
 *
 * A repository is mounted on the VM's host with sshfs in passive mode: sshfs speaks SFTP over its
 * stdin and stdout, which Kiln joins to an `sftp` subsystem channel on the repository. The data
 * streams host → Kiln → repository over the two SSH connections Kiln already trusts: the VM's
 * host holds no key for the repository and trusts no key of its own, and nothing is staged
 * (qemu-img and libvirt's backup job write straight into the mount). Operations that only touch
 * files (remove, inspect, discard) run on the repository itself, so they work while the VM's
 * host is away.
 */
import { randomBytes } from 'node:crypto';
import { DriverError, type BackupStoreSpec, type TrustAnchor } from '../types.js';
import { parseHostUrl } from './index.js';
import { command, script } from './shell.js';
import { SshConnection, type ExecResult } from './ssh-connection.js';

export const LOCAL_STORE = '/var/lib/kiln/backups';
/** A repository's store, relative to the SSH user's home (where exec and sftp start). */
export const REPOSITORY_STORE = 'kiln-backups';
/** Where repositories are mounted on a VM's host, one directory per use. */
const MOUNTS = `${LOCAL_STORE}/.mnt`;
const MOUNT_WAIT_MS = 15_000;

/** A store as a directory on the VM's host, for as long as the work in it runs. */
export interface MountedStore {
  root: string;
  /** Why the repository went away while mounted (its SSH connection was lost), if it did. */
  lost(): string | undefined;
  release(): Promise<void>;
}

/** How a repository is named in messages: the admin's name for it and its account. */
export function repositoryLabel(spec: BackupStoreSpec, repo?: SshConnection): string {
  const account = repo?.label ?? `${spec.username}@${spec.url.replace(/^ssh:\/\//, '')}`;
  return spec.name ? `"${spec.name}" (${account})` : account;
}

/** A shell where the store's files are: ROOT is the store's path there. */
export interface StoreShell {
  root: string;
  exec(commandLine: string): Promise<ExecResult>;
  close(): Promise<void>;
}

/** Connects to a repository with its pinned key (or learns it: first use). */
export async function openRepository(spec: BackupStoreSpec): Promise<SshConnection> {
  const address = parseHostUrl(spec.url, spec.username);
  if (!spec.password && !spec.privateKey) throw new DriverError('privatekey or password: the backup repository needs one', 'invalid', { param: 'privatekey' });
  if (spec.pinnedTrust && spec.pinnedTrust.kind !== 'ssh-host-key') throw new DriverError(`a backup repository is trusted by its SSH host key, not a ${spec.pinnedTrust.kind}`, 'invalid');
  try {
    return await SshConnection.open({
      host: address.host, port: address.port, username: address.username, password: spec.password, privateKey: spec.privateKey,
      pinnedHostKey: spec.pinnedTrust?.fingerprint, maxExecChannels: 4, readyTimeoutMs: 20_000, keepaliveIntervalMs: 5_000,
    });
  } catch (error) {
    // The job's error names the repository it could not reach, not only an address.
    if (!(error instanceof DriverError)) throw error;
    throw new DriverError(`cannot reach the backup repository ${repositoryLabel(spec)}: ${error.message}`, error.category, error.details);
  }
}

async function ensureStoreDir(repo: SshConnection): Promise<void> {
  const made = await repo.exec(command(['mkdir', '-p', '--', REPOSITORY_STORE]), { timeoutMs: 30_000 });
  if (made.code !== 0) throw new DriverError(`cannot make ~/${REPOSITORY_STORE} on the backup repository ${repo.label}: ${made.stderr.trim()}`, 'failed');
}

/** First use of a repository: connects, makes its store directory, and returns the key it trusted. */
export async function probeRepository(spec: BackupStoreSpec): Promise<TrustAnchor> {
  const repo = await openRepository(spec);
  try {
    await ensureStoreDir(repo);
    if (!repo.hostKeyFingerprint) throw new DriverError(`the backup repository ${repo.label} presented no host key`, 'failed');
    return { kind: 'ssh-host-key', fingerprint: repo.hostKeyFingerprint };
  } finally {
    await repo.close();
  }
}

export async function storeShell(host: SshConnection, spec: BackupStoreSpec | undefined): Promise<StoreShell> {
  if (!spec) return { root: LOCAL_STORE, exec: (line) => host.exec(line), close: async () => undefined };
  const repo = await openRepository(spec);
  return { root: REPOSITORY_STORE, exec: (line) => repo.exec(line, { timeoutMs: 300_000 }), close: () => repo.close() };
}

/** Mounts the store on the VM's host (the local store needs none). */
export async function mountStore(host: SshConnection, spec: BackupStoreSpec | undefined): Promise<MountedStore> {
  if (!spec) return { root: LOCAL_STORE, lost: () => undefined, release: async () => undefined };
  const repo = await openRepository(spec);
  const point = `${MOUNTS}/${randomBytes(8).toString('hex')}`;
  let stderr = '';
  let ended = false;
  let released = false;
  let lost: string | undefined;
  // A link to the repository that goes (keepalives give up) ends the relay below: sshfs exits and
  // every read or write in the mount fails; the work's error then says it was the repository.
  repo.once('down', (error: Error) => (lost ??= error.message));
  try {
    await ensureStoreDir(repo);
    const sftp = await repo.openSubsystem('sftp');
    // -f: sshfs stays in the foreground, so this channel lives exactly as long as the mount.
    const channel = await host.openChannel(script('mkdir -p "$1" && exec sshfs -f -o passive "$2" "$1"', [point, `:${REPOSITORY_STORE}`]));
    channel.stderr.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-2000)));
    channel.pipe(sftp).pipe(channel);
    // Either side going away ends the other: sshfs then exits and the mount fails fast instead of hanging.
    const end = () => {
      ended = true;
      sftp.end();
      channel.end();
    };
    sftp.once('close', () => {
      if (!released) lost ??= `its SFTP channel closed`;
      end();
    });
    channel.once('close', end);
    const deadline = Date.now() + MOUNT_WAIT_MS;
    for (;;) {
      const probe = await host.exec(command(['mountpoint', '-q', '--', point]), { timeoutMs: 10_000 });
      if (probe.code === 0) break;
      if (ended || Date.now() > deadline) throw new DriverError(`cannot mount the backup repository ${repo.label} on the host with sshfs: ${stderr.trim() || 'it did not come up'}`, 'failed');
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    return {
      root: point,
      lost: () => lost,
      async release() {
        released = true;
        await host.exec(script('fusermount3 -u "$1" 2>/dev/null || fusermount -u "$1" 2>/dev/null || umount -l "$1" 2>/dev/null; rmdir "$1" 2>/dev/null; true', [point]), { timeoutMs: 30_000 }).catch(() => undefined);
        end();
        await repo.close();
      },
    };
  } catch (error) {
    await host.exec(script('umount -l "$1" 2>/dev/null; rmdir "$1" 2>/dev/null; true', [point]), { timeoutMs: 10_000 }).catch(() => undefined);
    await repo.close();
    throw error;
  }
}

/** Runs WORK with the store mounted, releasing it afterwards whatever happens. */
export async function withMountedStore<T>(host: SshConnection, spec: BackupStoreSpec | undefined, work: (root: string) => Promise<T>): Promise<T> {
  const store = await mountStore(host, spec);
  try {
    return await work(store.root);
  } catch (error) {
    const lost = store.lost();
    if (!lost || !spec) throw error;
    throw new DriverError(`lost the connection to the backup repository ${repositoryLabel(spec)} (${lost}): ${error instanceof Error ? error.message : String(error)}`, 'unreachable');
  } finally {
    await store.release();
  }
}

export async function withStoreShell<T>(host: SshConnection, spec: BackupStoreSpec | undefined, work: (shell: StoreShell) => Promise<T>): Promise<T> {
  const shell = await storeShell(host, spec);
  try {
    return await work(shell);
  } finally {
    await shell.close();
  }
}
