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
export function requestLimitError(code: string | undefined): ApiError | undefined {
  if (code === 'HPE_HEADER_OVERFLOW') {
    return ApiError.param(`the request line and headers are over ${MAX_HEADER_BYTES} bytes; send large parameters (userdata) in the body of a POST`);
  }
  return undefined;
}

/** How much of a request's start is kept to name its command when Node cannot parse the rest. */
const HEAD_KEPT = 2048;

interface RequestHead {
  /** The first bytes of the request (its command is usually early). */
  head: string;
  /** The request line has been seen to its end. */
  lineDone: boolean;
  /** The last bytes of the previous chunk, so a `response=json` split across chunks is found. */
  carry: string;
  format?: 'json' | 'xml';
}

/**
 * Watches the request line of each connection's current request (its first bytes and any
 * `response=` in it), so that a request refused in clientError (too large to parse) is still
 * answered in the format it asked for, under its command's response name, as every other error is.
 */
export function watchRequestHeads(server: Server): (socket: Duplex) => { format?: 'json' | 'xml'; command?: string } {
  const heads = new WeakMap<Duplex, RequestHead>();
  server.on('connection', (socket: Socket) => {
    socket.on('data', (chunk: Buffer) => {
      let state = heads.get(socket);
      if (!state) heads.set(socket, (state = { head: '', lineDone: false, carry: '' }));
      if (state.lineDone) return;
      const text = chunk.toString('latin1');
      if (state.head.length < HEAD_KEPT) state.head += text.slice(0, HEAD_KEPT - state.head.length);
      const end = text.indexOf('\r\n');
      const scanned = state.carry + (end === -1 ? text : text.slice(0, end));
      for (const match of scanned.matchAll(/[?&]response=(json|xml)(?=[&\s]|$)/gi)) state.format = match[1]!.toLowerCase() as 'json' | 'xml';
      state.carry = scanned.slice(-16);
      if (end !== -1) state.lineDone = true;
    });
  });
  server.on('request', (req: IncomingMessage, res: ServerResponse) => res.on('finish', () => heads.delete(req.socket)));
  return (socket) => {
    const state = heads.get(socket);
    const target = /^[A-Z]+ (\S+)/.exec(state?.head ?? '')?.[1] ?? '';
    const query = new URLSearchParams(target.includes('?') ? target.slice(target.indexOf('?') + 1) : '');
    const command = query.get('command') ?? undefined;
    return { format: state?.format, command: command && /^[A-Za-z]{1,100}$/.test(command) ? command : undefined };
  };
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
