/**
 * The channel noVNC speaks RFB over in the Electron window (renderer/src/console/display-channel.ts):
 * it opens a graphical console channel on the bridge, is open once the channel is, hands the
 * guest's bytes to noVNC as ArrayBuffers, sends noVNC's bytes as base64, and closes with the
 * channel's reason (1011 for a refusal).
 */
import { describe, expect, it, vi } from 'vitest';
import type { ConsoleServerMessage, KilnConsoleBridge } from '../../preload/api';
import { displayChannel } from '../../renderer/src/console/display-channel';

function fakeBridge() {
  let listener: ((m: ConsoleServerMessage) => void) | undefined;
  const bridge = {
    open: vi.fn((_id: string, _vm: string, l: (m: ConsoleServerMessage) => void) => void (listener = l)),
    write: vi.fn(),
    writeBytes: vi.fn(),
    resize: vi.fn(),
    close: vi.fn(),
  } satisfies KilnConsoleBridge;
  return { bridge, emit: (m: ConsoleServerMessage) => listener!(m) };
}

describe('display channel over the console bridge', () => {
  it('opens a graphical channel and carries bytes both ways', () => {
    const { bridge, emit } = fakeBridge();
    const channel = displayChannel(bridge, 'vm-1')!;
    expect(bridge.open).toHaveBeenCalledWith(expect.stringMatching(/^display-/), 'vm-1', expect.any(Function), 'graphical');
    const id = bridge.open.mock.calls[0]![0];
    const opened = vi.fn();
    const received: number[][] = [];
    channel.onopen = opened;
    channel.onmessage = (e) => void received.push([...new Uint8Array(e.data)]);
    channel.send(new Uint8Array([1]));
    expect(bridge.writeBytes).not.toHaveBeenCalled();
    emit({ type: 'console-opened', id });
    expect(opened).toHaveBeenCalledOnce();
    expect(channel.readyState).toBe(1);
    emit({ type: 'console-data', id, data: btoa('RFB 003.008\n') });
    expect(String.fromCharCode(...received[0]!)).toBe('RFB 003.008\n');
    channel.send(new Uint8Array([0x52, 0x46, 0x42, 0xff]).buffer);
    expect(bridge.writeBytes).toHaveBeenCalledWith(id, btoa('RFB\xff'));
    const closed = vi.fn();
    channel.onclose = closed;
    emit({ type: 'console-error', id, errorcode: 431, errortext: 'type: VM x has no graphical console on its host' });
    expect(closed).toHaveBeenCalledWith({ code: 1011, reason: 'type: VM x has no graphical console on its host', wasClean: false });
    expect(channel.readyState).toBe(3);
  });

  it('is not offered by a bridge that cannot carry bytes', () => {
    const { bridge } = fakeBridge();
    expect(displayChannel({ ...bridge, writeBytes: undefined }, 'vm-1')).toBeUndefined();
  });
});
