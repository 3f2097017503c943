/**
 * Shared steps for the renderer's end-to-end suites (ui-*.test.ts): a suite's `kiln serve` and
 * Chromium, open the UI through the one-time token, collect CSP violations (both the DOM event
 * and the console message), call the API as the page does, take screenshots into
 * test-results/screenshots/, and walk the deploy wizard's first steps.
 */
import { mkdirSync } from 'node:fs';
import { afterAll, beforeAll, expect } from 'vitest';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { launchChromium } from '../helpers/browser.js';
import { startKiln, type KilnProcess } from '../helpers/server.js';

export const SHOTS = 'test-results/screenshots';

export interface UiSession {
  context: BrowserContext;
  page: Page;
  /** CSP violations seen on any page of the context so far. */
  cspViolations: string[];
  /** Uncaught page errors. */
  pageErrors: string[];
  api(command: string, params?: Record<string, string>): Promise<Record<string, unknown>>;
  shot(name: string): Promise<string>;
}

export async function openUi(browser: Browser, kiln: KilnProcess, options: { colorScheme?: 'light' | 'dark' } = {}): Promise<UiSession> {
  mkdirSync(SHOTS, { recursive: true });
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, colorScheme: options.colorScheme ?? 'light' });
  const cspViolations: string[] = [];
  const pageErrors: string[] = [];
  // (A string: the test project's TypeScript has no DOM library.)
  await context.addInitScript(
    "document.addEventListener('securitypolicyviolation', (e) => console.error('CSP violation: ' + e.violatedDirective + ' ' + e.blockedURI + ' ' + e.sample));",
  );
  const watch = (page: Page) => {
    page.on('console', (message) => {
      if (/Content Security Policy|CSP violation|Refused to (apply|load|execute)/i.test(message.text())) cspViolations.push(message.text());
    });
    page.on('pageerror', (error) => pageErrors.push(error.message));
  };
  context.on('page', watch);
  const page = await context.newPage();
  const response = await page.goto(kiln.uiUrl!);
  if (response?.status() !== 200) throw new Error(`the UI answered ${response?.status()}`);
  await page.getByRole('table', { name: 'Virtual machines' }).waitFor();
  return {
    context,
    page,
    cspViolations,
    pageErrors,
    async api(command, params = {}) {
      const res = await page.request.post(kiln.apiUrl, { form: { command, response: 'json', ...params }, headers: { 'X-Kiln-UI': '1' } });
      const body = (await res.json()) as Record<string, Record<string, unknown>>;
      return Object.values(body)[0] ?? {};
    },
    async shot(name) {
      const path = `${SHOTS}/${name}.png`;
      await page.screenshot({ path });
      return path;
    },
  };
}

export interface ServeUiHooks {
  /** Runs once `kiln serve` answers, before Chromium opens the UI: what the suite builds through the API first. */
  prepare?(kiln: KilnProcess): Promise<void>;
  /** Runs after Chromium closed and before `kiln serve` stops, also when the setup or a test failed. */
  cleanup?(): Promise<void>;
  /** Both hooks' timeout (a real host's zone takes minutes); vitest's default when not given. */
  timeoutMs?: number;
}

/**
 * Gives the calling suite (call it inside `describe`) its own `kiln serve` (a fresh data
 * directory, the simulator's demo zone) and Chromium with the UI open: before the suite's tests
 * it starts the process, runs PREPARE, opens the UI and hands both to READY (which may set up more
 * through the UI's API); after them it closes Chromium, runs CLEANUP and stops the process.
 */
export function serveUiSuite(ready: (suite: { kiln: KilnProcess; ui: UiSession }) => void | Promise<void>, hooks: ServeUiHooks = {}): void {
  let kiln: KilnProcess | undefined;
  let browser: Browser | undefined;
  beforeAll(async () => {
    kiln = await startKiln();
    await hooks.prepare?.(kiln);
    browser = await launchChromium();
    await ready({ kiln, ui: await openUi(browser, kiln) });
  }, hooks.timeoutMs);
  afterAll(async () => {
    await browser?.close();
    try {
      await hooks.cleanup?.();
    } finally {
      await kiln?.stop();
    }
  }, hooks.timeoutMs);
}

/**
 * The deploy wizard from the VM list to its Name step with the demo choices: the zone it picks,
 * Debian 12, Small Instance and the Demo L2 network it ticks by itself. ATPLACEMENT runs on the
 * first step before it moves on (e.g. to tick affinity groups).
 */
export async function wizardToNameStep(page: Page, atPlacement?: () => Promise<void>): Promise<void> {
  await page.getByRole('link', { name: 'Deploy VM' }).click();
  await expect.poll(() => page.getByRole('combobox', { name: 'Zone' }).inputValue()).not.toBe('');
  await atPlacement?.();
  await page.getByRole('button', { name: 'Next' }).click();
  await page.getByRole('combobox', { name: 'Template' }).selectOption({ label: 'Debian 12' });
  await page.getByRole('button', { name: 'Next' }).click();
  await page.getByRole('radio', { name: /Small Instance/ }).check();
  await page.getByRole('button', { name: 'Next' }).click();
  await expect.poll(() => page.getByRole('checkbox', { name: /Demo L2/ }).isChecked()).toBe(true);
  await page.getByRole('button', { name: 'Next' }).click();
}

/**
 * The page's API requests by command, from playwright's request events (the test's own calls
 * through page.request, as UiSession.api makes them, are not among them): what a live test
 * counts to show that a view follows the socket instead of reading its lists again.
 */
export class CommandCounter {
  readonly requests = new Map<string, number>();
  constructor(page: Page) {
    page.on('request', (request) => {
      const command = new URLSearchParams(request.postData() ?? '').get('command');
      if (command) this.requests.set(command, this.count(command) + 1);
    });
  }
  count(command: string): number {
    return this.requests.get(command) ?? 0;
  }
  /** The list commands requested since the last clear(), as `command=n`. */
  lists(): string[] {
    return [...this.requests].filter(([command]) => command.startsWith('list')).map(([command, n]) => `${command}=${n}`);
  }
  clear(): void {
    this.requests.clear();
  }
}

/**
 * The Hosts page's "Zones, pods and clusters" rows as 'zone | pod | cluster | hypervisor | hosts':
 * each cell's name (InfraTable's .cell-name, without its action buttons and state badge), else its text.
 */
export function infraRows(page: Page): Promise<string[]> {
  return page
    .getByRole('table', { name: 'Zones, pods and clusters' })
    .locator('tbody tr')
    .evaluateAll((trs) => trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => (td.querySelector('.cell-name') ?? td).textContent!.trim()).join(' | ').trim()));
}

/** Evaluates an expression in the page (a string: the test project's TypeScript has no DOM library). */
export function inPage<T = unknown>(page: Page, expression: string): Promise<T> {
  return page.evaluate(expression) as Promise<T>;
}

/** Waits for an async job through the API. */
export async function waitJob(ui: UiSession, jobid: string): Promise<Record<string, unknown>> {
  for (let i = 0; i < 300; i++) {
    const job = await ui.api('queryAsyncJobResult', { jobid });
    if (job['jobstatus'] !== 0) return job;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`job ${jobid} did not finish`);
}

/** The row of a VM in the (windowed) list, found by its display name. */
export function vmRow(page: Page, name: string) {
  return page.getByRole('table', { name: 'Virtual machines' }).locator('tbody tr').filter({ has: page.getByRole('link', { name, exact: true }) });
}

/** Goes to a view by its hash and waits for its heading. */
export async function goTo(ui: UiSession, hash: string, heading: string | RegExp): Promise<void> {
  await inPage(ui.page, `location.hash = ${JSON.stringify(hash)}`);
  await ui.page.getByRole('heading', { name: heading, level: 1 }).waitFor();
}

/** The one list item of an API list response (throws when there is not exactly one). */
export async function one<T = Record<string, unknown>>(ui: UiSession, command: string, listName: string, params: Record<string, string> = {}): Promise<T> {
  const items = (await ui.api(command, params))[listName] as T[] | undefined;
  if (items?.length !== 1) throw new Error(`${command} ${JSON.stringify(params)}: expected one ${listName}, got ${items?.length ?? 0}`);
  return items[0]!;
}

/** The demo zone, its Debian 12 template and the Small Instance offering, by name. */
export async function demoCatalog(ui: UiSession): Promise<{ zoneid: string; templateid: string; serviceofferingid: string }> {
  return {
    zoneid: (await one<{ id: string }>(ui, 'listZones', 'zone', { name: 'Demo' })).id,
    templateid: (await one<{ id: string }>(ui, 'listTemplates', 'template', { templatefilter: 'executable', name: 'Debian 12' })).id,
    serviceofferingid: (await one<{ id: string }>(ui, 'listServiceOfferings', 'serviceoffering', { name: 'Small Instance' })).id,
  };
}

/** Deploys a running VM named NAME in the demo zone through the API and returns its id. */
export async function deployDemoVm(ui: UiSession, name: string): Promise<string> {
  const job = await ui.api('deployVirtualMachine', { ...(await demoCatalog(ui)), name, displayname: name });
  const done = await waitJob(ui, String(job['jobid']));
  if (done['jobstatus'] !== 1) throw new Error(`deploying ${name} failed: ${JSON.stringify(done['jobresult'])}`);
  return (done['jobresult'] as { virtualmachine: { id: string } }).virtualmachine.id;
}
