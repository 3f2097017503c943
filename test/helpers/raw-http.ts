/**
 * Requests no well-behaved client would send (unparseable targets, malformed cookies, foreign
 * Host headers, oversized request lines), written byte for byte to a real server's socket.
 */
import { connect } from 'node:net';
import { request } from 'node:http';

export interface RawAnswer {
  /** The status code of the first response line, 0 when the server closed without answering. */
  status: number;
  text: string;
  /** The socket failed (e.g. ECONNRESET) rather than closing after an answer. */
  error?: string;
}

/** Writes `text` (CRLF line ends added) to host:port and reads until the server closes. */
export function rawRequest(port: number, lines: string[], body = '', timeoutMs = 5000): Promise<RawAnswer> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    let text = '';
    const done = (error?: string) => {
      socket.destroy();
      const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(text)?.[1] ?? 0);
      resolve({ status, text, ...(error ? { error } : {}) });
    };
    const timer = setTimeout(() => done('timeout'), timeoutMs);
    socket.on('data', (chunk: Buffer) => {
      text += chunk.toString('utf8');
      // An upgrade that succeeds keeps the socket open: its 101 head is the answer.
      if (/^HTTP\/1\.1 101 /.test(text) && text.includes('\r\n\r\n')) {
        clearTimeout(timer);
        done();
      }
    });
    socket.on('end', () => {
      clearTimeout(timer);
      done();
    });
    socket.on('error', (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      done(error.code ?? error.message);
    });
    socket.write(`${lines.join('\r\n')}\r\n\r\n${body}`);
  });
}

/** The head of a WebSocket upgrade request to `target`. */
export function upgradeLines(target: string, host: string, extra: string[] = []): string[] {
  return [`GET ${target} HTTP/1.1`, `Host: ${host}`, 'Connection: Upgrade', 'Upgrade: websocket', 'Sec-WebSocket-Version: 13', 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==', ...extra];
}

/** A GET with a chosen Host header (fetch may not set Host), answered as status + text. */
export function getWithHost(url: string, host: string | undefined): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const target = new URL(url);
    const headers: Record<string, string> = {};
    if (host !== undefined) headers['host'] = host;
    const req = request({ host: target.hostname, port: target.port, path: `${target.pathname}${target.search}`, headers, setHost: false }, (res) => {
      let text = '';
      res.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
    });
    req.on('error', reject);
    req.end();
  });
}
