/**
 * The members of an OVA: a POSIX (ustar) tar whose first member is the .ovf (OVF 1.x, DSP0243
 * §5.3). Only the index is read (names, sizes, offsets), so a disk is streamed straight from the
 * file to vCenter's NFC upload without unpacking the archive. tar-stream reads tars only as one
 * stream from the start, which cannot serve "this member, now" for each disk of the lease.
 */
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import type { Readable } from 'node:stream';

export interface TarMember {
  name: string;
  size: number;
  /** Byte offset of the member's data in the archive. */
  offset: number;
}

const BLOCK = 512;
/** More members than any appliance has: a bound on reading a hostile archive's index. */
const MAX_MEMBERS = 1000;

function field(header: Buffer, start: number, length: number): string {
  const raw = header.subarray(start, start + length);
  const end = raw.indexOf(0);
  return raw.subarray(0, end < 0 ? raw.length : end).toString('utf8');
}

function octal(header: Buffer, start: number, length: number, what: string): number {
  const text = field(header, start, length).trim();
  if (!/^[0-7]*$/.test(text)) throw new Error(`not a tar archive (${what} field is not octal)`);
  return text === '' ? 0 : Number.parseInt(text, 8);
}

/** The regular-file members of the OVA at FILE, in archive order. Throws for anything that is not a ustar archive. */
export async function listMembers(file: string): Promise<TarMember[]> {
  const handle = await open(file, 'r');
  try {
    const { size: total } = await handle.stat();
    const members: TarMember[] = [];
    const header = Buffer.alloc(BLOCK);
    for (let at = 0; at + BLOCK <= total; ) {
      await handle.read(header, 0, BLOCK, at);
      if (header.every((b) => b === 0)) break;
      if (field(header, 257, 5) !== 'ustar') throw new Error('not a ustar tar archive (an OVA is one)');
      const sum = octal(header, 148, 8, 'checksum');
      let computed = 0;
      for (let i = 0; i < BLOCK; i++) computed += i >= 148 && i < 156 ? 32 : header[i]!;
      if (sum !== computed) throw new Error('corrupt tar header (checksum mismatch)');
      const size = octal(header, 124, 12, 'size');
      const prefix = field(header, 345, 155);
      const name = prefix ? `${prefix}/${field(header, 0, 100)}` : field(header, 0, 100);
      const type = String.fromCharCode(header[156]!);
      if (type === '0' || type === '\0') members.push({ name, size, offset: at + BLOCK });
      if (members.length > MAX_MEMBERS) throw new Error(`more than ${MAX_MEMBERS} members`);
      at += BLOCK + Math.ceil(size / BLOCK) * BLOCK;
      if (at > total + BLOCK) throw new Error(`member ${name} runs past the end of the archive`);
    }
    return members;
  } finally {
    await handle.close();
  }
}

/** A member's bytes as text (the .ovf, the manifest). */
export async function readMember(file: string, member: TarMember, maxBytes: number): Promise<string> {
  if (member.size > maxBytes) throw new Error(`${member.name} is ${member.size} bytes, more than the ${maxBytes} Kiln reads`);
  const handle = await open(file, 'r');
  try {
    const out = Buffer.alloc(member.size);
    await handle.read(out, 0, member.size, member.offset);
    return out.toString('utf8');
  } finally {
    await handle.close();
  }
}

/** A member's bytes as a stream (a disk for the upload). */
export function openMember(file: string, member: TarMember): Readable {
  if (member.size === 0) return createReadStream(file, { start: 1, end: 0 });
  return createReadStream(file, { start: member.offset, end: member.offset + member.size - 1 });
}
