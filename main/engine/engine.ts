/**
 * The orchestration engine: the database, settings, the command registry, jobs, events, host
 * sessions and the VM lifecycle, wired together. No Electron here: the same engine runs in the
 * desktop app's main process and under plain Node (`kiln serve`).
 */
import { EventEmitter } from 'node:events';
import { join } from 'node:path';
import { openDatabase, type Db } from './db/database.js';
import { createPrivateFile, secureDataDir } from './data-dir.js';
import { Settings } from './settings.js';
import { CommandRegistry } from './registry/registry.js';
import { JobManager } from './jobs.js';
import { settleInterruptedSnapshots } from './vm/vm-snapshots.js';
import { settleInterruptedVolumes } from './volumes/settle.js';
import { EventLog } from './events.js';
import { FileMasterKey, SecretBox, type MasterKeySource } from './secrets.js';
import { Accounts } from './auth/accounts.js';
import { HostManager } from './hosts/host-manager.js';
import { syncHypervisorCapabilities } from './hosts/hypervisor-capabilities.js';
import { LiveHub } from './live-hub.js';
import { JobFeed } from './live/job-feed.js';
import { infraFeeds, type InfraFeeds } from './live/infra-feed.js';
import { VmFeed } from './vm/vm-feed.js';
import { HostFeed } from './hosts/host-feed.js';
import { EventFeed } from './live/event-feed.js';
import { Planner } from './placement/planner.js';
import { VmService } from './vm/vm-service.js';
import { ALL_COMMANDS } from './commands/index.js';
import { seedDefaults } from './seed.js';
import { SimulatorDriver } from '../../drivers/simulator/index.js';
import type { HypervisorDriver, HypervisorType } from '../../drivers/types.js';
import { BackgroundTasks } from './background.js';
import { ConsoleTokens } from './vm/console-tokens.js';
import { ImageDownloads } from './images/downloads.js';
import { MetadataService } from './metadata/metadata-service.js';
import { relayMetadataOnConnect } from './metadata/host-relay.js';
import { removeCopiesOnConnect } from './images/host-copies.js';
import { publishPrivateVlanPeersOnConnect } from './vm/private-vlan-peers.js';
import { BackupFramework } from './backup/framework.js';

export interface Logger {
  info(message: string): void;
  warn(message: string): void;
  error(message: string, error?: unknown): void;
}

export const consoleLogger: Logger = {
  info: (m) => console.log(`[kiln] ${m}`),
  warn: (m) => console.warn(`[kiln] ${m}`),
  error: (m, e) => console.error(`[kiln] ${m}`, e instanceof Error ? e.stack : e ?? ''),
};

export const silentLogger: Logger = { info: () => undefined, warn: () => undefined, error: () => undefined };

export interface EngineOptions {
  dataDir: string;
  masterKey?: MasterKeySource;
  /** Extra or replacement drivers (KVM, vSphere, XenServer); the simulator is always there. */
  drivers?: HypervisorDriver[];
  /** Create the demo zone and root admin on first run (default true). */
  seed?: boolean;
  /** Run the HA monitor, reconcile and expunge sweeper (default true). */
  background?: boolean;
  /**
   * This process owns the data directory's jobs (default true). A tool that opens the database
   * beside a running server (kiln keys, kiln api) must not declare that server's jobs orphaned.
   */
  ownsJobs?: boolean;
  log?: Logger;
}

export class Engine {
  readonly db: Db;
  readonly settings: Settings;
  readonly registry: CommandRegistry;
  readonly jobs: JobManager;
  readonly events: EventLog;
  readonly secrets: SecretBox;
  readonly accounts: Accounts;
  readonly hosts: HostManager;
  readonly planner: Planner;
  readonly vms: VmService;
  readonly simulator: SimulatorDriver;
  /** Resource changes for live views (VM state); jobs and events have their own emitters. */
  readonly bus = new EventEmitter();
  readonly log: Logger;
  readonly background: BackgroundTasks;
  /** The UI's live subscriptions (WebSocket and IPC clients), one listener per channel on the emitters above. */
  readonly live: LiveHub;
  /** The 'vms' live channel's batches of changed VM records (vm-feed.ts). */
  readonly vmFeed: VmFeed;
  /** The 'hosts' live channel's batches of changed host records (hosts/host-feed.ts). */
  readonly hostFeed: HostFeed;
  /** The 'events' live channel's batches of new event records (live/event-feed.ts). */
  readonly eventFeed: EventFeed;
  /** The 'jobs' live channel's batches of job updates (live/job-feed.ts). */
  readonly jobFeed: JobFeed;
  /** The 'zones', 'pods' and 'clusters' live channels' batches of changed records (live/infra-feed.ts). */
  readonly infraFeeds: InfraFeeds;
  readonly consoleTokens = new ConsoleTokens();
  /** The metadata HTTP service cloud-init's CloudStack datasource reads (R62); listening only when configured. */
  readonly metadata = new MetadataService(this);
  /** Template and ISO downloads into the zones' image stores. */
  readonly images: ImageDownloads;
  /** The backup and recovery framework (R53–R58): offerings, backups, schedules and the sync task. */
  readonly backups = new BackupFramework(this);

  private constructor(readonly dataDir: string, options: EngineOptions) {
    this.log = options.log ?? consoleLogger;
    for (const problem of secureDataDir(dataDir)) this.log.warn(`cannot restrict the data directory to its owner: ${problem}`);
    createPrivateFile(join(dataDir, 'kiln.db'));
    this.db = openDatabase(join(dataDir, 'kiln.db'));
    this.secrets = new SecretBox(options.masterKey ?? new FileMasterKey(join(dataDir, 'master.key')));
    this.settings = new Settings(this.db);
    this.events = new EventLog(this.db);
    this.jobs = new JobManager(this.db);
    this.accounts = new Accounts(this.db, this.secrets, this.settings);
    this.simulator = new SimulatorDriver({ stateFile: join(dataDir, 'simulator.json') });
    const drivers = new Map<HypervisorType, HypervisorDriver>([['Simulator', this.simulator]]);
    for (const driver of options.drivers ?? []) drivers.set(driver.hypervisor, driver);
    this.hosts = new HostManager(this.db, this.secrets, drivers, this.events);
    syncHypervisorCapabilities(this.db, drivers.values());
    this.planner = new Planner(this.db, this.settings);
    this.vms = new VmService(this);
    this.registry = new CommandRegistry(this);
    this.registry.register(...ALL_COMMANDS);
    this.vmFeed = new VmFeed(this);
    this.hostFeed = new HostFeed(this);
    this.eventFeed = new EventFeed(this.events);
    this.jobFeed = new JobFeed(this.jobs);
    this.infraFeeds = infraFeeds(this);
    this.live = new LiveHub({
      jobs: { emitter: this.jobFeed.emitter, event: 'jobs' },
      events: { emitter: this.eventFeed.emitter, event: 'events' },
      vms: { emitter: this.vmFeed.emitter, event: 'vms' },
      hosts: { emitter: this.hostFeed.emitter, event: 'hosts' },
      // A change notice only (the row's id): each list reads the images again with its caller's rights.
      images: { emitter: this.bus, event: 'template' },
      zones: { emitter: this.infraFeeds.zones.emitter, event: 'zones' },
      pods: { emitter: this.infraFeeds.pods.emitter, event: 'pods' },
      clusters: { emitter: this.infraFeeds.clusters.emitter, event: 'clusters' },
    });
    this.background = new BackgroundTasks(this);
    this.images = new ImageDownloads(this);
    relayMetadataOnConnect(this);
    removeCopiesOnConnect(this);
    publishPrivateVlanPeersOnConnect(this);
  }

  static async open(options: EngineOptions): Promise<Engine> {
    const engine = new Engine(options.dataDir, options);
    const orphans = options.ownsJobs === false ? 0 : engine.jobs.recoverOrphans();
    if (orphans > 0) engine.log.warn(`${orphans} job(s) were in progress when Kiln last stopped; they are now reported as failed`);
    if (options.ownsJobs !== false) settleInterruptedSnapshots(engine);
    if (options.ownsJobs !== false) settleInterruptedVolumes(engine);
    // A download the last process did not finish starts again (never "in progress" for ever).
    if (options.ownsJobs !== false) engine.images.resumeInterrupted();
    if (options.seed !== false) await seedDefaults(engine);
    if (options.background !== false) engine.background.start();
    // Backups a dead process left are settled, then one sync runs (a schedule missed while closed runs once).
    if (options.background !== false && options.ownsJobs !== false) engine.backups.start();
    // The metadata HTTP service where guests reach Kiln directly (kiln.metadata.listen.address).
    const metadataAddress = engine.settings.string('kiln.metadata.listen.address');
    if (metadataAddress && options.background !== false) {
      await engine.metadata.listen(metadataAddress).then(
        (ports) => engine.log.info(`metadata service for guests on ${metadataAddress}:${ports.metadata} (password server :${ports.password})`),
        (error: unknown) => engine.log.warn(`metadata service not started on ${metadataAddress}: ${error instanceof Error ? error.message : String(error)}`),
      );
    }
    return engine;
  }

  async close(): Promise<void> {
    await this.metadata.close();
    this.background.stop();
    this.background.ha.stop();
    this.backups.stop();
    await this.jobs.drain();
    await this.images.stop();
    await this.hosts.closeAll();
    this.vmFeed.close();
    this.hostFeed.close();
    this.eventFeed.close();
    this.jobFeed.close();
    for (const feed of Object.values(this.infraFeeds)) feed.close();
    this.db.close();
  }
}
