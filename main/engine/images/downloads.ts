/**
 * Downloads of registered templates and ISOs into the zone's image store: an engine background
 * task per template, with CloudStack's progress ("35% Downloaded", "Download Complete", or the
 * error) on the row that listTemplates shows. A download is checked against the size limit
 * (max.template.iso.size) while it runs, and against the checksum and the image's own header
 * before it counts. Downloads a previous process left unfinished start again from the beginning
 * when the engine opens (resumeInterrupted), so none stays "in progress" for ever.
 */
import { createHash, type Hash } from 'node:crypto';
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { createWriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import http, { type IncomingMessage } from 'node:http';
import https from 'node:https';
import type { LookupFunction } from 'node:net';
import { join } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Engine } from '../engine.js';
import type { TemplateRow } from '../vm/rows.js';
import { inspectImage } from './image-check.js';
import { describeDownload } from './appliances.js';
import { isInternalAddress, MAX_SIZE_SETTING, parseChecksum } from './image-source.js';
import { hostImageName, storeFileName, zoneStoreDir } from './image-store.js';

const GiB = 1024 ** 3;
const MAX_REDIRECTS = 5;
/** Without a Content-Length, progress is written at most this often (each write is a row update). */
const PROGRESS_INTERVAL_MS = 250;

class Stopped extends Error {}

export class ImageDownloads {
  private readonly running = new Map<number, { controller: AbortController; done: Promise<void> }>();
  private stopping = false;

  constructor(private readonly engine: Engine) {}

  /** Starts the download of template ID in the background (once; a running one is left alone). */
  start(templateId: number): void {
    if (this.running.has(templateId) || this.stopping) return;
    const controller = new AbortController();
    const done = this.download(templateId, controller.signal)
      .catch((error: unknown) => {
        // Whatever broke outside the download itself, the row must not stay "in progress".
        this.engine.log.error(`download of template ${templateId}`, error);
        try {
          this.progress(templateId, 'DOWNLOAD_ERROR', 0, `Download Failed: ${error instanceof Error ? error.message : String(error)}`);
        } catch {
          /* the database is gone: the next open restarts the download */
        }
      })
      .finally(() => this.running.delete(templateId));
    this.running.set(templateId, { controller, done });
  }

  /** Restarts every download an earlier process did not finish; returns how many. */
  resumeInterrupted(): number {
    const rows = this.engine.db.prepare(`SELECT id FROM templates WHERE removed IS NULL AND download_state IN ('NOT_DOWNLOADED','DOWNLOAD_IN_PROGRESS')`).all() as { id: number }[];
    for (const { id } of rows) this.start(id);
    return rows.length;
  }

  /** Resolves when template ID's download (if one runs) has finished, failed or stopped. */
  async wait(templateId: number): Promise<void> {
    await this.running.get(templateId)?.done;
  }

  /** Stops template ID's download, if one runs (its image is being deleted), once its partial file is gone. */
  async cancel(templateId: number): Promise<void> {
    const entry = this.running.get(templateId);
    if (!entry) return;
    entry.controller.abort(new Stopped('the image is being deleted'));
    await entry.done;
  }

  /** Stops every download; their rows stay in progress, so the next open starts them again. */
  async stop(): Promise<void> {
    this.stopping = true;
    const all = [...this.running.values()];
    for (const entry of all) entry.controller.abort(new Stopped('Kiln is shutting down'));
    await Promise.all(all.map((entry) => entry.done));
  }

  private row(id: number): TemplateRow | undefined {
    return this.engine.db.prepare('SELECT * FROM templates WHERE id=? AND removed IS NULL').get(id) as TemplateRow | undefined;
  }

  private progress(id: number, state: TemplateRow['download_state'], percent: number, status: string): void {
    this.engine.db.prepare('UPDATE templates SET download_state=?, download_percent=?, status=? WHERE id=?').run(state, percent, status, id);
    this.engine.bus.emit('template', { id });
  }

  private async download(id: number, signal: AbortSignal): Promise<void> {
    const row = this.row(id);
    if (!row || row.download_state === 'DOWNLOADED' || !row.url || row.zone_id === null) return;
    const { db, settings } = this.engine;
    const zone = db.prepare('SELECT uuid FROM zones WHERE id=?').get(row.zone_id) as { uuid: string };
    const owner = db.prepare('SELECT role FROM accounts WHERE id=?').get(row.account_id) as { role: string } | undefined;
    const file = join(zoneStoreDir(this.engine.dataDir, zone.uuid), storeFileName(row));
    const part = `${file}.part`;
    const limitGb = settings.int(MAX_SIZE_SETTING, row.zone_id);
    const maxBytes = limitGb * GiB;
    const expected = row.checksum ? parseChecksum(row.checksum) : undefined;
    this.progress(id, 'DOWNLOAD_IN_PROGRESS', 0, 'Download In Progress');
    let lastWrite = 0;
    let lastPercent = -1;
    try {
      const result = await fetchToFile(row.url, part, {
        signal,
        maxBytes,
        limitText: `max.template.iso.size (${limitGb} GiB)`,
        // A user's URL must not reach this machine (the Kiln API itself listens on 127.0.0.1).
        allowInternal: owner?.role === 'Admin',
        hashes: expected && expected.algorithm !== 'sha256' ? ['sha256', expected.algorithm] : ['sha256'],
        onProgress: (bytes, total) => {
          // With a known length, every whole percent is written (100 updates at most); without
          // one, the byte count at most every PROGRESS_INTERVAL_MS.
          const percent = total ? Math.min(99, Math.floor((bytes * 100) / total)) : 0;
          const at = Date.now();
          if (total ? percent === lastPercent : at - lastWrite < PROGRESS_INTERVAL_MS) return;
          lastWrite = at;
          lastPercent = percent;
          this.progress(id, 'DOWNLOAD_IN_PROGRESS', percent, total ? `${percent}% Downloaded` : `${(bytes / 1024 ** 2).toFixed(1)} MB Downloaded`);
        },
      });
      if (expected && result.digests[expected.algorithm] !== expected.hex) {
        throw new Error(`checksum mismatch: the image's ${expected.algorithm.toUpperCase()} is ${result.digests[expected.algorithm]}, not ${expected.hex}`);
      }
      const facts = await inspectImage(part, row.format, result.bytes);
      // An appliance (its driver deploys it as described) is read now, once; a malformed one fails the download.
      const appliance = await describeDownload(this.engine, row, part);
      await rename(part, file);
      const current = this.row(id);
      if (!current) {
        await rm(file, { force: true });
        return;
      }
      // Ready and described at once (an OVA must never be usable without its descriptor); the column is only written for appliances.
      db.transaction(() => {
        db.prepare(
          `UPDATE templates SET download_state='DOWNLOADED', download_percent=100, status='Download Complete', store_path=?, sha256=?, physical_size=?, size=?, image_path=?, state='Active' WHERE id=?`,
        ).run(file, result.digests['sha256'], result.bytes, Math.max(current.size, facts.virtualSize), hostImageName(current), id);
        if (appliance !== null) db.prepare('UPDATE templates SET deploy_as_is=? WHERE id=?').run(appliance, id);
      })();
      this.engine.bus.emit('template', { id });
      this.engine.events.record({ type: row.is_iso ? 'ISO.DOWNLOAD' : 'TEMPLATE.DOWNLOAD', description: `${row.is_iso ? 'ISO' : 'template'} ${row.name} downloaded (${result.bytes} bytes)`, accountId: row.account_id, resourceType: row.is_iso ? 'Iso' : 'Template', resourceUuid: row.uuid });
    } catch (error) {
      await rm(part, { force: true });
      if (signal.aborted && signal.reason instanceof Stopped) return;
      const message = error instanceof Error ? error.message : String(error);
      this.progress(id, 'DOWNLOAD_ERROR', lastPercent < 0 ? 0 : lastPercent, `Download Failed: ${message}`);
      this.engine.events.record({ type: row.is_iso ? 'ISO.DOWNLOAD' : 'TEMPLATE.DOWNLOAD', level: 'ERROR', description: `${row.is_iso ? 'ISO' : 'template'} ${row.name}: download failed: ${message}`, accountId: row.account_id, resourceType: row.is_iso ? 'Iso' : 'Template', resourceUuid: row.uuid });
    }
  }
}

interface FetchOptions {
  signal: AbortSignal;
  maxBytes: number;
  limitText: string;
  allowInternal: boolean;
  hashes: string[];
  onProgress(bytes: number, total: number | undefined): void;
}

/** GETs URL into FILE (following up to five redirects, each one checked like the first). */
async function fetchToFile(url: string, file: string, options: FetchOptions): Promise<{ bytes: number; digests: Record<string, string> }> {
  let current = new URL(url);
  for (let redirects = 0; ; redirects++) {
    const response = await get(current, options);
    const status = response.statusCode ?? 0;
    const location = response.headers.location;
    if (status >= 300 && status < 400 && location) {
      response.resume();
      if (redirects >= MAX_REDIRECTS) throw new Error(`more than ${MAX_REDIRECTS} redirects`);
      const next = new URL(location, current);
      if (next.protocol !== 'http:' && next.protocol !== 'https:') throw new Error(`a redirect to ${next.protocol} is refused`);
      current = next;
      continue;
    }
    if (status !== 200) {
      response.resume();
      throw new Error(`the server answered HTTP ${status} for ${current.toString()}`);
    }
    const length = Number(response.headers['content-length']);
    const total = Number.isFinite(length) && length > 0 ? length : undefined;
    if (total !== undefined && total > options.maxBytes) {
      response.destroy();
      throw new Error(`the image is ${total} bytes, larger than ${options.limitText}`);
    }
    const hashes: [string, Hash][] = options.hashes.map((name) => [name, createHash(name)]);
    let bytes = 0;
    const meter = new Transform({
      transform(chunk: Buffer, _encoding, callback) {
        bytes += chunk.length;
        if (bytes > options.maxBytes) return callback(new Error(`the image is larger than ${options.limitText}`));
        for (const [, hash] of hashes) hash.update(chunk);
        options.onProgress(bytes, total);
        callback(null, chunk);
      },
    });
    await pipeline(response, meter, createWriteStream(file, { mode: 0o600 }), { signal: options.signal });
    if (total !== undefined && bytes !== total) throw new Error(`the connection ended after ${bytes} of ${total} bytes`);
    return { bytes, digests: Object.fromEntries(hashes.map(([name, hash]) => [name, hash.digest('hex')])) };
  }
}

function get(url: URL, options: FetchOptions): Promise<IncomingMessage> {
  const client = url.protocol === 'https:' ? https : http;
  // A literal address is connected to without a lookup, so guardedLookup never sees it (a redirect's above all).
  const literal = url.hostname.replace(/^\[|\]$/g, '');
  if (!options.allowInternal && isInternalAddress(literal)) return Promise.reject(new Error(`${url.host} is an address of this machine; only the root admin may download from it`));
  return new Promise((resolve, reject) => {
    const request = client.get(url, { signal: options.signal, lookup: options.allowInternal ? undefined : guardedLookup, headers: { 'user-agent': 'Kiln image download' }, timeout: 60_000 }, resolve);
    request.on('timeout', () => request.destroy(new Error(`no answer from ${url.host} within 60 s`)));
    request.on('error', (error) => reject(error instanceof Error && error.name === 'AbortError' ? (options.signal.reason as Error) : error));
  });
}

/** dns.lookup that refuses addresses of this machine, checked where the connection is made (a
 *  name that resolves to 127.0.0.1 is caught here, not only a literal in the URL). */
const guardedLookup: LookupFunction = (hostname, options, callback) => {
  dnsLookup(hostname, { ...options, all: true }, (error, addresses: LookupAddress[]) => {
    if (error) return callback(error, '', 4);
    const bad = addresses.find((a) => isInternalAddress(a.address));
    if (bad || addresses.length === 0) return callback(new Error(`${hostname} resolves to ${bad?.address ?? 'nothing'}, an address of this machine; only the root admin may download from it`), '', 4);
    if (options.all) return (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, addresses);
    return callback(null, addresses[0]!.address, addresses[0]!.family);
  });
};
