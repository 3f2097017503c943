/**
 * A vim25 session with one endpoint (a vCenter or an ESXi host): the service content, login,
 * and `call`, which re-logs in once and retries once when the server has dropped the session
 * (NotAuthenticated: idle expiry, a restart, an admin terminating it).
 */
import { startedOrClosed } from '../../common/shared-connections.js';
import { decodeResponse, encodeRequest } from './codec.js';
import { SoapProtocolError, VimFault, isVimFault } from './faults.js';
import { SoapTransport, type TransportOptions } from './transport.js';
import { MoRef, asMoRef, asObject, asString, type SoapValue, type VimObject, type VimValue } from './values.js';

export interface VimClientOptions extends TransportOptions {
  username?: string;
  password?: string;
}

export interface ServiceContent {
  raw: VimObject;
  rootFolder: MoRef;
  propertyCollector: MoRef;
  viewManager?: MoRef;
  sessionManager?: MoRef;
  taskManager?: MoRef;
  ovfManager?: MoRef;
  about: { apiType: string; apiVersion: string; fullName: string; instanceUuid: string };
}

export interface CallOptions {
  signal?: AbortSignal;
  timeoutMs?: number;
  /** The schema type of returnval, for returns the server writes without xsi:type. */
  returnType?: string;
}

/** Methods that work without a session; a NotAuthenticated from them is not retried. */
const SESSIONLESS = new Set(['RetrieveServiceContent', 'Login', 'Logout']);

export class VimClient {
  readonly transport: SoapTransport;
  serviceContent!: ServiceContent;
  private credentials: { username: string; password: string } | undefined;
  private relogin: Promise<void> | undefined;
  /** Bumped on every login: session-scoped objects (views, filters) made before are gone. */
  sessionGeneration = 0;
  private readonly renewedListeners = new Set<() => void>();

  private constructor(opts: VimClientOptions) {
    this.transport = new SoapTransport(opts);
  }

  /** Connects (TLS pin check, RetrieveServiceContent) and, given credentials, logs in. */
  static async connect(opts: VimClientOptions): Promise<VimClient> {
    const client = new VimClient(opts);
    // A failed opening leaves no connection behind.
    await startedOrClosed(client, async () => {
      const sc = asObject(await client.call('RetrieveServiceContent', new MoRef('ServiceInstance', 'ServiceInstance'), {}, { returnType: 'ServiceContent' }));
      const about = asObject(sc['about']);
      client.serviceContent = {
        raw: sc,
        rootFolder: asMoRef(sc['rootFolder'])!,
        propertyCollector: asMoRef(sc['propertyCollector'])!,
        viewManager: asMoRef(sc['viewManager']),
        sessionManager: asMoRef(sc['sessionManager']),
        taskManager: asMoRef(sc['taskManager']),
        ovfManager: asMoRef(sc['ovfManager']),
        about: {
          apiType: asString(about['apiType']) ?? '',
          apiVersion: asString(about['apiVersion']) ?? '',
          fullName: asString(about['fullName']) ?? '',
          instanceUuid: asString(about['instanceUuid']) ?? '',
        },
      };
      if (!client.serviceContent.rootFolder || !client.serviceContent.propertyCollector) throw new SoapProtocolError('RetrieveServiceContent: no rootFolder or propertyCollector');
      if (client.serviceContent.about.apiVersion) client.transport.apiVersion = client.serviceContent.about.apiVersion;
      if (opts.username !== undefined && opts.password !== undefined) await client.login(opts.username, opts.password);
    });
    return client;
  }

  /** The thumbprint this client trusts (on first use: the one the server presented). */
  get thumbprint(): string | undefined {
    return this.transport.trust.thumbprint;
  }

  get sessionManager(): MoRef {
    const sm = this.serviceContent.sessionManager;
    if (!sm) throw new SoapProtocolError('this endpoint has no SessionManager');
    return sm;
  }

  async login(username: string, password: string): Promise<VimObject> {
    const session = asObject(await this.call('Login', this.sessionManager, { userName: username, password }, { returnType: 'UserSession' }));
    this.credentials = { username, password };
    this.sessionGeneration++;
    return session;
  }

  async logout(): Promise<void> {
    this.credentials = undefined;
    try {
      await this.call('Logout', this.sessionManager);
    } catch (e) {
      if (!isVimFault(e, 'NotAuthenticated')) throw e;
    }
    this.transport.sessionCookie = undefined;
  }

  /** Called after a re-login, so owners of session-scoped objects can make them again. */
  onSessionRenewed(listener: () => void): () => void {
    this.renewedListeners.add(listener);
    return () => this.renewedListeners.delete(listener);
  }

  /** Calls `method` on `self`. Throws VimFault for a server fault, ThumbprintMismatchError for a changed certificate. */
  async call(method: string, self: MoRef, args: Record<string, SoapValue> = {}, opts: CallOptions = {}): Promise<VimValue | undefined> {
    const envelope = encodeRequest(method, self, args);
    const generation = this.sessionGeneration;
    try {
      return await this.send(envelope, method, opts);
    } catch (e) {
      if (!isVimFault(e, 'NotAuthenticated') || SESSIONLESS.has(method) || !this.credentials) throw e;
      // Someone else may have logged in again meanwhile; then only the retry is needed.
      if (generation === this.sessionGeneration) await this.loginAgain();
      return this.send(envelope, method, opts);
    }
  }

  private async send(envelope: string, method: string, opts: CallOptions): Promise<VimValue | undefined> {
    const reply = await this.transport.post(envelope, opts.signal, opts.timeoutMs);
    if (reply.status !== 200 && reply.status !== 500) throw new SoapProtocolError(`${method}: HTTP ${reply.status} from ${this.transport.url.host}`, reply.status);
    return decodeResponse(reply.body, method, opts.returnType).returnval;
  }

  private loginAgain(): Promise<void> {
    this.relogin ??= (async () => {
      try {
        const { username, password } = this.credentials!;
        this.transport.sessionCookie = undefined;
        await this.login(username, password);
        for (const listener of this.renewedListeners) listener();
      } finally {
        this.relogin = undefined;
      }
    })();
    return this.relogin;
  }

  /** Fails every request under way and each one after, and destroys the sockets (an abandoned close). */
  destroy(): void {
    this.transport.destroy();
  }

  close(): void {
    this.transport.close();
  }
}

export { VimFault };
