/**
 * A running VM's display as a TCP connection Kiln's own browser client (noVNC) can speak RFB over:
 * the driver's graphical console facet forwards a local port to the display (KVM: through the
 * host's pooled SSH connection), and this connects to it. The console WebSocket carries the bytes.
 */
import { connect, type Socket } from 'node:net';
import type { Engine } from '../engine.js';
import type { Caller } from '../registry/types.js';
import { ApiError } from '../registry/errors.js';
import { vmRef } from './rows.js';

/** The protocols noVNC speaks (RFB is VNC's wire protocol). */
const RFB_PROTOCOLS = ['vnc', 'rfb'];

export interface DisplayConnection {
  socket: Socket;
  /** Ends the connection and the driver's forward. */
  close(): Promise<void>;
}

/**
 * 431 unless the VM's display is one Kiln's console client shows: there is one, and it speaks RFB.
 * createConsoleEndpoint asks before it hands out a token, openDisplay again when it connects.
 */
export function requireShownDisplay(vmName: string, protocol: string | undefined): void {
  if (!protocol) throw ApiError.param(`type: VM ${vmName} has no graphical console on its host`);
  if (!RFB_PROTOCOLS.includes(protocol)) throw ApiError.param(`type: the graphical console of VM ${vmName} speaks ${protocol}, which Kiln's console client cannot show`);
}

export async function openDisplay(engine: Engine, caller: Caller, uuid: string): Promise<DisplayConnection> {
  const vm = engine.vms.forCaller(caller, uuid, 'virtualmachineid');
  if (vm.state !== 'Running' || vm.host_id === null) throw ApiError.param(`virtualmachineid: VM ${vm.display_name} is ${vm.state}; the console is available only while it is Running`);
  const graphical = (await engine.hosts.session(vm.host_id)).console?.graphical;
  requireShownDisplay(vm.display_name, graphical?.protocol);
  const display = await graphical!.open(vmRef(vm));
  if (display.port === undefined) {
    await display.close();
    throw ApiError.param(`type: the host gave VM ${vm.display_name}'s display no local port`);
  }
  const socket = connect(display.port, '127.0.0.1');
  try {
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
  } catch (error) {
    socket.destroy();
    await display.close();
    throw error;
  }
  socket.setNoDelay(true);
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    socket.destroy();
    await display.close();
  };
  socket.once('close', () => void close());
  return { socket, close };
}
