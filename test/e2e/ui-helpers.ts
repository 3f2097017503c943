/**
 * Shared steps for the renderer's end-to-end suites (ui-*.test.ts): open the UI through the
 * one-time token, collect CSP violations (both the DOM event and the console message), call the
 * API as the page does, and take screenshots into test-results/screenshots/.
 */
import { mkdirSync } from 'node:fs';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import type { KilnProcess } from '../helpers/server.js';

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
