/**
 * The request guard's rules (the DNS-rebinding Host check, the address given to clients, and
 * parsing that never throws); the real server is exercised in test/integration/http-guard.test.ts.
 */
import { describe, expect, it } from 'vitest';
import type { AddressInfo } from 'node:net';
import { allowedHosts, hostAllowed, parseCookies, parseRequestTarget, reachableAddress } from '../../main/http/request-guard.js';
import { getParameterLimitError, RequestLineReader, requestLimitError } from '../../main/http/request-limits.js';

const v4: AddressInfo = { address: '127.0.0.1', family: 'IPv4', port: 8080 };
const any: AddressInfo = { address: '0.0.0.0', family: 'IPv4', port: 8080 };
const v6: AddressInfo = { address: '::1', family: 'IPv6', port: 8080 };

describe('request guard', () => {
  it('allows the bound address and the loopback names, each with the port', () => {
    expect([...allowedHosts(v4, '127.0.0.1')].sort()).toEqual(['127.0.0.1:8080', '[::1]:8080', 'localhost:8080']);
    for (const host of ['127.0.0.1:8080', 'localhost:8080', 'LocalHost:8080', '[::1]:8080']) expect(hostAllowed(host, v4, '127.0.0.1'), host).toBe(true);
    for (const host of [undefined, '', 'localhost', '127.0.0.1', 'localhost:8081', 'evil.example:8080', '127.0.0.1.nip.io:8080', 'localhost:8080.evil', '127.0.0.2:8080']) expect(hostAllowed(host, v4, '127.0.0.1'), String(host)).toBe(false);
  });

  it('bound to every interface, allows the address the connection arrived on, never a name', () => {
    expect(hostAllowed('192.168.1.5:8080', any, '192.168.1.5')).toBe(true);
    expect(hostAllowed('192.168.1.6:8080', any, '192.168.1.5')).toBe(false);
    expect(hostAllowed('kiln.lan:8080', any, '192.168.1.5')).toBe(false);
    expect(hostAllowed('192.168.1.5:8080', any, '::ffff:192.168.1.5')).toBe(true);
    expect(reachableAddress(any, '::ffff:192.168.1.5')).toBe('192.168.1.5:8080');
    expect(reachableAddress(v4, '127.0.0.1')).toBe('127.0.0.1:8080');
    expect(reachableAddress(v6, '::1')).toBe('[::1]:8080');
  });

  it('on port 80 a Host without the port is the same host', () => {
    expect(hostAllowed('localhost', { ...v4, port: 80 }, '127.0.0.1')).toBe(true);
  });

  it('parses targets and cookies without throwing', () => {
    expect(parseRequestTarget('//[')).toBeUndefined();
    expect(parseRequestTarget('http://evil/x')).toBeUndefined();
    expect(parseRequestTarget('*')).toBeUndefined();
    expect(parseRequestTarget('/client/api?command=listZones')?.pathname).toBe('/client/api');
    expect(parseCookies('kiln_ui=%; sessionkey=%E0%A4%A; ok=a%20b; =x; novalue')).toEqual({ ok: 'a b' });
  });

  it('limits userdata on a GET to the guide\'s 2048 bytes (R61), by name and case-insensitively', () => {
    expect(getParameterLimitError({ userdata: 'A'.repeat(2048) })).toBeUndefined();
    expect(getParameterLimitError({ UserData: 'A'.repeat(2049) })?.message).toBe('userdata: 2049 bytes is over the 2048-byte limit of a GET parameter; send it in the body of a POST');
    expect(getParameterLimitError({ name: 'A'.repeat(5000) })).toBeUndefined();
  });

  it('reads an over-long request line in pieces: its format, command and the parameter that made it too long', () => {
    const reader = new RequestLineReader();
    reader.feed('GET /client/api?command=deployVirtualMachine&resp');
    reader.feed('onse=json&user%64ata=' + 'A'.repeat(5000));
    reader.feed('A'.repeat(5000));
    expect(reader.summary).toEqual({ format: 'json', command: 'deployVirtualMachine', longest: { name: 'userdata', bytes: 10000 } });
    expect(requestLimitError('HPE_HEADER_OVERFLOW', reader.summary)?.message).toBe('userdata: the request line and headers are over 262144 bytes (userdata alone is 10000 bytes or more); send it in the body of a POST');
    const odd = new RequestLineReader();
    odd.feed(`GET /?%3Cx%3E=${'b'.repeat(3000)} HTTP/1.1\r\n`);
    expect(odd.done).toBe(true);
    expect(odd.summary.longest).toEqual({ name: 'a parameter', bytes: 3000 });
    expect(requestLimitError('HPE_INVALID_METHOD')).toBeUndefined();
  });
});
