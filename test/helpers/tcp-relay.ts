/**
 * A TCP relay a test puts between Kiln and a simulator (vcsim, the xapi simulator) to cut the
 * connection (every connection dropped, new ones refused) and restore it, while the simulator keeps
 * its inventory, as a restart would not; or to hold it: a link that stopped answering (a pulled
 * cable, a firewall dropping packets), where nothing fails and nothing comes back.
 */
import net from 'node:net';

export class Relay {
  private readonly server: net.Server;
  private readonly sockets = new Set<net.Socket>();
  private readonly pairs = new Set<{ client: net.Socket; upstream: net.Socket }>();
  private readonly clients = new Set<net.Socket>();
  cut = false;
  held = false;
  port = 0;

  constructor(private readonly target: { host: string; port: number }) {
    this.server = net.createServer((client) => {
      if (this.cut) return void client.destroy();
      this.clients.add(client);
      client.on('close', () => this.clients.delete(client));
      if (this.held) {
        // Accepted, and never answered: TCP connects, TLS and every request wait. What it sends is
        // read and thrown away (so its end is seen, not left behind unread data).
        this.sockets.add(client);
        client.on('error', () => undefined);
        client.on('close', () => this.sockets.delete(client));
        client.resume();
        return;
      }
      const upstream = net.connect(this.target.port, this.target.host);
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on('error', () => undefined);
        s.on('close', () => {
          this.sockets.delete(s);
          (s === client ? upstream : client).destroy();
        });
      }
      client.pipe(upstream);
      upstream.pipe(client);
      const pair = { client, upstream };
      this.pairs.add(pair);
      client.on('close', () => this.pairs.delete(pair));
    });
  }

  /** Listens on 127.0.0.1 (port chosen by the system: this.port). */
  async listen(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as net.AddressInfo).port;
  }

  /** Drops every connection through the relay and refuses new ones until restore(). */
  cutOff(): void {
    this.cut = true;
    for (const s of this.sockets) s.destroy();
  }

  /** How many connections the client side (Kiln) has open through the relay now. */
  get connections(): number {
    return this.clients.size;
  }

  /** Stops carrying anything, either way, on every connection, open or new, until restore() (which drops them). */
  hold(): void {
    this.held = true;
    for (const { client, upstream } of this.pairs) {
      client.unpipe(upstream);
      upstream.unpipe(client);
      // Read and thrown away (unpipe paused them): what is sent over a dead link goes nowhere.
      client.resume();
      upstream.resume();
    }
  }

  restore(): void {
    if (this.held) for (const s of this.sockets) s.destroy();
    this.held = false;
    this.cut = false;
  }

  async close(): Promise<void> {
    this.cutOff();
    await new Promise((resolve) => this.server.close(resolve));
  }
}
