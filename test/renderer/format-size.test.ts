/**
 * One size formatter for every page (renderer/src/api/format-size.ts): binary units with their
 * binary names, so a 2 GiB disk reads "2.0 GiB" on the Volumes tab, the Images page and the
 * storage pools alike (it read "2.0 GB" on Volumes and Primary storage, "2.0 GiB" on Images).
 */
import { describe, expect, it } from 'vitest';
import { formatBytes, formatBytesOf, formatGiB, GiB } from '../../renderer/src/api/format-size';

describe('size formatting', () => {
  it('names binary units as such, one decimal from KiB up', () => {
    expect(formatBytes(512)).toBe('512 B');
    expect(formatBytes(256 * 1024)).toBe('256.0 KiB');
    expect(formatBytes(1.5 * 1024 ** 2)).toBe('1.5 MiB');
    expect(formatBytes(2 * GiB)).toBe('2.0 GiB');
    expect(formatBytes(20 * GiB)).toBe('20.0 GiB');
    expect(formatBytes(1024 * GiB)).toBe('1.0 TiB');
    expect(formatBytes(0)).toBe('0 B');
    expect(formatBytes(undefined)).toBe('—');
    expect(formatBytes(Number.NaN)).toBe('—');
  });

  it('reads a size given in GiB (an offering\'s disksize) the same way', () => {
    expect(formatGiB(5)).toBe('5.0 GiB');
    expect(formatGiB(undefined)).toBe('—');
  });

  it('gives a part of a whole in the whole\'s unit', () => {
    expect(formatBytesOf(GiB, 16 * GiB)).toBe('1.0 of 16.0 GiB');
    expect(formatBytesOf(0, 16 * GiB)).toBe('0.0 of 16.0 GiB');
  });
});
