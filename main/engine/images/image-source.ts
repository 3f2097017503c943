/**
 * Where a template's bytes may come from. Users register images only by http(s) URL, which Kiln
 * downloads into the zone's image store (as CloudStack's secondary storage does); a path on the
 * hosts is for the root admin alone, and only inside the directory the admin configured
 * (kiln.template.local.dir). Kernel and initrd details are host paths as well and follow the
 * same rule. Without this, any user could make a host open /etc/shadow or /dev/sda for a guest.
 */
import { BlockList, isIP } from 'node:net';
import { posix } from 'node:path';
import { ApiError } from '../registry/errors.js';
import type { Caller } from '../registry/types.js';
import type { Settings } from '../settings.js';

export const LOCAL_DIR_SETTING = 'kiln.template.local.dir';
export const MAX_SIZE_SETTING = 'max.template.iso.size';

/** Template details that become host paths or the guest kernel's command line. */
export const KERNEL_DETAILS = ['kernel', 'initrd', 'kernelArgs'] as const;
const PATH_DETAILS = new Set(['kernel', 'initrd']);

export type ImageSource = { kind: 'download'; url: string } | { kind: 'local'; path: string };

export function isRootAdmin(caller: Caller): boolean {
  return caller.role === 'Admin';
}

/** The url parameter of registerTemplate: an http(s) URL to download, or (root admin) a host path. */
export function parseImageUrl(raw: string, param: string, caller: Caller, settings: Settings): ImageSource {
  refuseControlCharacters(raw, param);
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):/.exec(raw)?.[1]?.toLowerCase();
  if (scheme === undefined) return { kind: 'local', path: localPath(raw, param, caller, settings) };
  if (scheme === 'file') throw ApiError.param(`${param}: file:// URLs are refused; give an http(s) URL, which Kiln downloads into the zone's image store`);
  if (scheme !== 'http' && scheme !== 'https') throw ApiError.param(`${param}: only http and https URLs are accepted, not ${scheme}:`);
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw ApiError.param(`${param}: ${JSON.stringify(raw)} is not a valid URL`);
  }
  if (!url.hostname) throw ApiError.param(`${param}: the URL names no host`);
  // URL() quietly resolves dot segments; refuse them as written instead of guessing what was meant.
  const rawPath = raw.slice(raw.indexOf('//') + 2).replace(/^[^/?#]*/, '').replace(/[?#].*$/, '');
  if (rawPath.split('/').some((segment) => isDotSegment(segment))) throw ApiError.param(`${param}: ".." and "." path segments are refused`);
  const literal = url.hostname.replace(/^\[|\]$/g, '');
  if (!isRootAdmin(caller) && isIP(literal) !== 0 && isInternalAddress(literal)) {
    throw ApiError.param(`${param}: ${url.hostname} is an address of this machine (loopback, link-local, unspecified or multicast); only the root admin may download from it`);
  }
  return { kind: 'download', url: url.toString() };
}

/** A path on the hosts, allowed for the root admin inside kiln.template.local.dir; returns it canonical. */
export function localPath(raw: string, param: string, caller: Caller, settings: Settings): string {
  refuseControlCharacters(raw, param);
  if (!raw.startsWith('/')) throw ApiError.param(`${param}: give an http(s) URL (or, for the root admin, an absolute path inside ${LOCAL_DIR_SETTING})`);
  const segments = raw.split('/');
  if (segments.some((segment) => isDotSegment(segment))) throw ApiError.param(`${param}: ".." and "." path segments are refused`);
  const path = posix.normalize(raw);
  if (path === '/dev' || path.startsWith('/dev/')) throw ApiError.param(`${param}: device paths (/dev/…) are refused`);
  if (!isRootAdmin(caller)) throw ApiError.denied(`${param}: a path on the hosts is for the root admin only; register the image by http(s) URL`);
  const dir = settings.string(LOCAL_DIR_SETTING).trim();
  if (!dir) throw ApiError.param(`${param}: host paths are disabled; set ${LOCAL_DIR_SETTING} to the directory the hosts keep images in, or give an http(s) URL`);
  const base = posix.normalize(dir).replace(/\/+$/, '');
  if (!path.startsWith(`${base}/`)) throw ApiError.param(`${param}: ${path} is outside ${LOCAL_DIR_SETTING} (${base})`);
  return path;
}

/**
 * Checks the kernel/initrd/kernelArgs details (root admin only; kernel and initrd are host paths
 * under the same rule as url) and returns the details with those paths canonical.
 */
export function checkKernelDetails(details: Record<string, string>, param: string, caller: Caller, settings: Settings): Record<string, string> {
  const out = { ...details };
  for (const key of Object.keys(details)) {
    const known = KERNEL_DETAILS.find((k) => k.toLowerCase() === key.toLowerCase());
    if (!known) continue;
    if (known !== key) throw ApiError.param(`${param}: detail ${key} is spelled ${known}`);
    if (!isRootAdmin(caller)) throw ApiError.denied(`${param}: the ${key} detail is for the root admin only`);
    if (PATH_DETAILS.has(key)) out[key] = localPath(details[key]!, `${param}.${key}`, caller, settings);
  }
  return out;
}

export interface Checksum {
  /** node:crypto's name for the algorithm. */
  algorithm: 'md5' | 'sha1' | 'sha224' | 'sha256' | 'sha384' | 'sha512';
  hex: string;
}

const ALGORITHMS: Record<string, { algorithm: Checksum['algorithm']; hexLength: number }> = {
  MD5: { algorithm: 'md5', hexLength: 32 },
  'SHA-1': { algorithm: 'sha1', hexLength: 40 },
  'SHA-224': { algorithm: 'sha224', hexLength: 56 },
  'SHA-256': { algorithm: 'sha256', hexLength: 64 },
  'SHA-384': { algorithm: 'sha384', hexLength: 96 },
  'SHA-512': { algorithm: 'sha512', hexLength: 128 },
};

/**
 * CloudStack's checksum format (DigestHelper): "{SHA-256}hex", "{MD5}hex", …, or plain hex, which
 * CloudStack reads as MD5 (other plain lengths are read by their length, as it also guesses).
 */
export function parseChecksum(raw: string, param = 'checksum'): Checksum {
  const match = /^(?:\{([A-Za-z0-9-]+)\})?([0-9A-Fa-f]+)$/.exec(raw.trim());
  if (!match) throw ApiError.param(`${param}: give hex digits, optionally after {MD5}, {SHA-1}, {SHA-224}, {SHA-256}, {SHA-384} or {SHA-512}`);
  const [, name, hex] = match as unknown as [string, string | undefined, string];
  const entry = name
    ? ALGORITHMS[name.toUpperCase().replace(/^SHA(\d)/, 'SHA-$1')]
    : Object.values(ALGORITHMS).find((a) => a.hexLength === hex.length);
  if (!entry) throw ApiError.param(`${param}: ${name ? `unknown algorithm {${name}}` : `${hex.length} hex digits match no algorithm (MD5 has 32)`}`);
  if (entry.hexLength !== hex.length) throw ApiError.param(`${param}: a ${name} checksum has ${entry.hexLength} hex digits, not ${hex.length}`);
  return { algorithm: entry.algorithm, hex: hex.toLowerCase() };
}

/** Loopback, "this network", link-local, multicast and reserved: addresses that reach this machine or no one in particular. */
const INTERNAL = new BlockList();
for (const [net, prefix] of [['127.0.0.0', 8], ['0.0.0.0', 8], ['169.254.0.0', 16], ['224.0.0.0', 4], ['240.0.0.0', 4]] as const) INTERNAL.addSubnet(net, prefix, 'ipv4');
for (const [net, prefix] of [['::1', 128], ['::', 128], ['fe80::', 10], ['ff00::', 8]] as const) INTERNAL.addSubnet(net, prefix, 'ipv6');

/** True for an address of this machine; BlockList also sees IPv4 behind an IPv4-mapped IPv6 form (::ffff:7f00:1). */
export function isInternalAddress(ip: string): boolean {
  const family = isIP(ip);
  return family !== 0 && INTERNAL.check(ip, family === 6 ? 'ipv6' : 'ipv4');
}

function isDotSegment(segment: string): boolean {
  const decoded = segment.replace(/%2e/gi, '.');
  return decoded === '..' || decoded === '.';
}

function refuseControlCharacters(raw: string, param: string): void {
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(raw)) throw ApiError.param(`${param}: control characters are refused`);
}
