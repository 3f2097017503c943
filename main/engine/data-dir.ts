/**
 * The data directory holds the database, the master key, sealed secrets and the first admin's
 * password, so only its owner may read it: the directory 0700, every file in it 0600. Modes are
 * fixed at every start, not only when a file is made, because a directory from an older Kiln (or
 * made by hand, or restored from a backup) may be group- or world-readable.
 *
 * Only the directory and the files directly in it are changed. Subdirectories are left alone: the
 * directory may be one the user named with --data-dir or Electron's userData, which also holds
 * Chromium's own folders; the 0700 directory already keeps others out of all of them.
 */
import { chmodSync, closeSync, mkdirSync, openSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

export const DIR_MODE = 0o700;
export const FILE_MODE = 0o600;

/**
 * Creates DIR if needed and restricts it and the files in it to the owner. Returns what could not
 * be changed (a file system without modes, a file of another user) for the caller to warn about.
 */
export function secureDataDir(dir: string): string[] {
  mkdirSync(dir, { recursive: true, mode: DIR_MODE });
  const problems: string[] = [];
  // Never another user's file (as root, a data dir such as /tmp holds everyone's), and never a
  // shared sticky directory itself: chmod 0700 on /tmp would lock every other user out of it.
  const uid = process.getuid?.();
  const dirStat = statSync(dir);
  if (dirStat.mode & 0o1000) return [`${dir} is a shared (sticky) directory; give Kiln a data directory of its own`];
  const restrict = (path: string, mode: number) => {
    try {
      const stat = statSync(path);
      if (uid !== undefined && stat.uid !== uid) problems.push(`${path}: owned by uid ${stat.uid}, not by this user`);
      else if ((stat.mode & 0o777) !== mode) chmodSync(path, mode);
    } catch (error) {
      problems.push(`${path}: ${(error as Error).message}`);
    }
  };
  restrict(dir, DIR_MODE);
  // Symbolic links are skipped (readdir reports them as links, not files): chmod would follow
  // them to a file outside the directory.
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.isFile()) restrict(join(dir, entry.name), FILE_MODE);
  }
  return problems;
}

/**
 * Creates FILE empty with mode 0600 if it does not exist, so that SQLite opens a file that was
 * never readable by others (SQLite gives its -wal and -shm files the database file's mode).
 */
export function createPrivateFile(file: string): void {
  closeSync(openSync(file, 'a', FILE_MODE));
  chmodSync(file, FILE_MODE);
}

/** The first root admin's password, written at initialisation and removed once it is changed (updateUser). */
export function initialAdminPasswordFile(dataDir: string): string {
  return join(dataDir, 'initial-admin-password');
}
