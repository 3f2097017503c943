/**
 * How large a request may be, and the CloudStack error that says so (R61). The guide limits a
 * GET parameter to 2048 bytes and sends larger user data by POST; a body may carry up to
 * MAX_BODY. Every limit is answered with the API's error envelope (431, naming the parameter),
 * never with a reset connection.
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { ApiError } from '../engine/registry/errors.js';

/** Largest request body accepted: userdata (32 KB decoded, R61) is far below it. */
export const MAX_BODY = 2 * 1024 * 1024;

/**
 * Request line plus headers Node reads before giving up (its default, 16 KB, would reset a
 * GET with 32 KB of userdata before Kiln could say why). Past this, clientError answers.
 */
export const MAX_HEADER_BYTES = 256 * 1024;

/** The guide: "the length of an HTTP GET parameter is limited to 2048 bytes" (user data). */
export const GET_PARAMETER_LIMIT = 2048;

/** Parameters the guide says go by POST when large. */
const POST_ONLY_WHEN_LARGE = ['userdata'];

/** The 431 for a GET that carries a blob the guide says must come by POST, if any. */
export function getParameterLimitError(query: Record<string, string>): ApiError | undefined {
  for (const [name, value] of Object.entries(query)) {
    if (!POST_ONLY_WHEN_LARGE.includes(name.toLowerCase())) continue;
    const bytes = Buffer.byteLength(value);
    if (bytes > GET_PARAMETER_LIMIT) {
      return ApiError.param(`${name.toLowerCase()}: ${bytes} bytes is over the ${GET_PARAMETER_LIMIT}-byte limit of a GET parameter; send it in the body of a POST`);
    }
  }
  return undefined;
}

/** The answer to a request Node could not read because of its size (node's clientError code). */
export function requestLimitError(code: string | undefined, line: RequestLineSummary = {}): ApiError | undefined {
  if (code !== 'HPE_HEADER_OVERFLOW') return undefined;
  const longest = line.longest;
  if (longest && longest.bytes > GET_PARAMETER_LIMIT) {
    return ApiError.param(`${longest.name}: the request line and headers are over ${MAX_HEADER_BYTES} bytes (${longest.name} alone is ${longest.bytes} bytes or more); send it in the body of a POST`);
  }
  return ApiError.param(`the request line and headers are over ${MAX_HEADER_BYTES} bytes; send large parameters (userdata) in the body of a POST`);
}

/** What the request line of a request too large to parse asked for, as far as it arrived. */
export interface RequestLineSummary {
  format?: 'json' | 'xml';
  command?: string;
  /** Its longest parameter so far (the one that overflowed, usually userdata). */
  longest?: { name: string; bytes: number };
}

/**
 * A streaming reader of one request line's query: parameter names, the length of each value,
 * and the values of `response` and `command`, kept small whatever the line's size.
 */
export class RequestLineReader {
  private phase: 'method' | 'path' | 'key' | 'value' | 'done' = 'method';
  private key = '';
  private value = '';
  private bytes = 0;
  readonly summary: RequestLineSummary = {};

  get done(): boolean {
    return this.phase === 'done';
  }

  feed(text: string): void {
    for (let i = 0; i < text.length && this.phase !== 'done'; i++) {
      const c = text[i]!;
      const end = c === ' ' || c === '\r' || c === '\n';
      switch (this.phase) {
        case 'method':
          if (c === ' ') this.phase = 'path';
          break;
        case 'path':
          if (c === '?') this.phase = 'key';
          else if (end) this.phase = 'done';
          break;
        case 'key':
          if (c === '=') {
            this.phase = 'value';
          } else if (c === '&') {
            this.key = '';
          } else if (end) {
            this.phase = 'done';
          } else if (this.key.length < 100) {
            this.key += c;
          }
          break;
        case 'value':
          if (c === '&' || end) {
            this.finish();
            this.phase = end ? 'done' : 'key';
          } else {
            this.bytes++;
            if (this.value.length < 100) this.value += c;
          }
          break;
      }
    }
    // The value still arriving counts too: it is the one that overflowed.
    if (this.phase === 'value') this.note();
  }

  private note(): void {
    const longest = this.summary.longest;
    if (!longest || this.bytes > longest.bytes) this.summary.longest = { name: quotableName(this.key), bytes: this.bytes };
  }

  private finish(): void {
    this.note();
    const name = this.key.toLowerCase();
    const value = this.value.toLowerCase();
    if (name === 'response' && (value === 'json' || value === 'xml')) this.summary.format = value;
    if (name === 'command' && /^[a-z]{1,100}$/.test(value)) this.summary.command = this.value;
    this.key = '';
    this.value = '';
    this.bytes = 0;
  }
}

/** A parameter name fit to quote in an error text (it came off the wire undecoded). */
function quotableName(raw: string): string {
  let name: string;
  try {
    name = decodeURIComponent(raw.replace(/\+/g, ' '));
  } catch {
    name = raw;
  }
  return /^[A-Za-z0-9_.[\]-]{1,100}$/.test(name) ? name.toLowerCase() : 'a parameter';
}

/**
 * Reads the request line of each connection's current request as it arrives, so that a request
 * refused in clientError (too large to parse) is still answered in the format it asked for,
 * under its command's response name, naming the parameter that made it too large.
 */
export function watchRequestHeads(server: Server): (socket: Duplex) => RequestLineSummary {
  const readers = new WeakMap<Duplex, RequestLineReader>();
  server.on('connection', (socket: Socket) => {
    socket.on('data', (chunk: Buffer) => {
      let reader = readers.get(socket);
      if (!reader) readers.set(socket, (reader = new RequestLineReader()));
      if (!reader.done) reader.feed(chunk.toString('latin1'));
    });
  });
  // A keep-alive connection's next request starts a new line.
  server.on('request', (req: IncomingMessage, res: ServerResponse) => res.on('finish', () => readers.delete(req.socket)));
  return (socket) => readers.get(socket)?.summary ?? {};
}

/** A body over MAX_BODY: the error, and the format and command it asked for, when its drained rest named them. */
export interface BodyTooLarge {
  error: ApiError;
  format?: 'json' | 'xml';
  command?: string;
}

/** How long an over-long body is drained (to learn its `response=`) before it is answered anyway. */
const DRAIN_MS = 10_000;

/**
 * The request body as text, or, when it is over MAX_BODY, the 431 to answer. An over-long body
 * is not kept but read to its end (at most DRAIN_MS), looking for its `response=` and
 * `command=`: the answer then comes in the format asked for, and the client, done writing,
 * reads it instead of meeting a reset.
 */
export function readLimitedBody(req: IncomingMessage): Promise<string | BodyTooLarge> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    let carry = '';
    const found: { format?: 'json' | 'xml'; command?: string } = {};
    let timer: NodeJS.Timeout | undefined;
    const tooLarge = () => {
      if (timer) clearTimeout(timer);
      resolve({ error: ApiError.param(`the request body is larger than ${MAX_BODY} bytes; userdata is at most 32 KB once decoded`), ...found });
    };
    const scan = (text: string) => {
      const window = carry + text;
      for (const m of window.matchAll(/(?:^|&)response=(json|xml)(?=&|$)/gi)) found.format = m[1]!.toLowerCase() as 'json' | 'xml';
      for (const m of window.matchAll(/(?:^|&)command=([A-Za-z]{1,100})(?=&|$)/g)) found.command = m[1]!;
      carry = window.slice(-120);
    };
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (!over && size > MAX_BODY) {
        over = true;
        for (const kept of chunks) scan(kept.toString('latin1'));
        chunks.length = 0;
        timer = setTimeout(tooLarge, DRAIN_MS);
      }
      if (over) scan(chunk.toString('latin1'));
      else chunks.push(chunk);
    });
    req.on('end', () => (over ? tooLarge() : resolve(Buffer.concat(chunks).toString('utf8'))));
    req.on('error', (error) => {
      if (timer) clearTimeout(timer);
      reject(error);
    });
  });
}
