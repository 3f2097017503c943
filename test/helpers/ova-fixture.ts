/**
 * The test appliance (test/vsphere/fixtures/ova): its .ovf and a small disk packed as an OVA,
 * a ustar archive with the descriptor first (as OVF 1.x requires), with the system's tar.
 * Returns the archive's path and its SHA-256; a variant may replace the descriptor's text.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const OVA_FIXTURE_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'vsphere', 'fixtures', 'ova');
export const OVF_NAME = 'appliance.ovf';
export const DISK_NAME = 'kiln-appliance-disk1.vmdk';

export function fixtureOvf(): string {
  return readFileSync(path.join(OVA_FIXTURE_DIR, OVF_NAME), 'utf8');
}

export function buildOva(options: { ovf?: string; name?: string } = {}): { path: string; sha256: string; size: number } {
  const dir = mkdtempSync(path.join(tmpdir(), 'kiln-ova-'));
  writeFileSync(path.join(dir, OVF_NAME), options.ovf ?? fixtureOvf());
  copyFileSync(path.join(OVA_FIXTURE_DIR, DISK_NAME), path.join(dir, DISK_NAME));
  const out = path.join(dir, options.name ?? 'appliance.ova');
  execFileSync('tar', ['--format=ustar', '-cf', out, '-C', dir, OVF_NAME, DISK_NAME]);
  const bytes = readFileSync(out);
  return { path: out, sha256: createHash('sha256').update(bytes).digest('hex'), size: bytes.length };
}
