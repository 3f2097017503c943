/**
 * The host-copy cases of deleteTemplate/deleteIso (images/host-copies.ts), for a zone of any
 * hypervisor: each takes the zone's ids and a probe that asks the hypervisor itself (a pool
 * volume, a vCenter template or datastore file, a VDI) whether Kiln's copy of an image is there.
 */
import { expect } from 'vitest';
import type { TestEngine } from './engine.js';

/** Whether the hypervisor holds Kiln's copy named NAME (kiln-tmpl-<uuid>.<ext> / kiln-iso-<uuid>.iso). */
export type CopyProbe = (name: string) => Promise<boolean>;

export interface CopyZone {
  t: TestEngine;
  zoneid: string;
  serviceofferingid: string;
  networkid?: string;
  /** Extra deploy parameters (a host, a start flag). */
  deploy?: Record<string, string>;
  probe: CopyProbe;
}

/** The copy's name on hosts (templates.image_path) and the rows still owed for it. */
export const copyName = (t: TestEngine, id: string) => t.engine.db.prepare('SELECT image_path FROM templates WHERE uuid=?').pluck().get(id) as string;
export const owed = (t: TestEngine, id: string) =>
  t.engine.db.prepare('SELECT h.name AS host, r.last_error AS reason FROM image_copy_removals r JOIN hosts h ON h.id=r.host_id JOIN templates i ON i.id=r.template_id WHERE i.uuid=? ORDER BY h.name').all(id) as { host: string; reason: string }[];

async function deploy(z: CopyZone, templateid: string, name: string): Promise<string> {
  const vm = await z.t.job('deployVirtualMachine', { zoneid: z.zoneid, templateid, serviceofferingid: z.serviceofferingid, name, ...(z.networkid ? { networkids: z.networkid } : {}), ...z.deploy });
  return (vm['virtualmachine'] as { id: string }).id;
}

/**
 * A forced stop of VMID if it runs: destroy stops a running VM gracefully, and a guest still
 * booting (deaf to the ACPI button) holds it for all of vm.stop.timeout.
 */
export async function powerOff(t: TestEngine, vmid: string): Promise<void> {
  if (t.engine.db.prepare('SELECT state FROM vm_instances WHERE uuid=?').pluck().get(vmid) === 'Running') await t.job('stopVirtualMachine', { id: vmid, forced: 'true' });
}

/**
 * TEMPLATEID (downloaded, not used yet): a VM deployed from it makes the host copy; deleteTemplate
 * is refused while the VM exists, forced=true deletes it but keeps the copy the VM uses (written
 * down, reason named); the VM's expunge removes the copy and the debt.
 */
export async function forcedDeleteKeepsCopyUntilExpunge(z: CopyZone, templateid: string, vmName: string): Promise<void> {
  const name = copyName(z.t, templateid);
  expect(await z.probe(name)).toBe(false);
  const vm = await deploy(z, templateid, vmName);
  expect(await z.probe(name)).toBe(true);
  const refused = await z.t.call('deleteTemplate', { id: templateid });
  expect(refused.status).toBe(431);
  expect(String(refused.body['errortext'])).toMatch(new RegExp(`is used by VM ${vmName}; expunge them first, or give forced=true$`));
  await z.t.job('deleteTemplate', { id: templateid, forced: 'true' });
  expect(((await z.t.ok('listTemplates', { templatefilter: 'all', id: templateid }))['template'] as unknown[] | undefined) ?? []).toEqual([]);
  expect(await z.probe(name)).toBe(true);
  const debts = owed(z.t, templateid);
  expect(debts.length).toBeGreaterThan(0);
  expect(new Set(debts.map((d) => d.reason))).toEqual(new Set([`used by VM ${vmName}`]));
  await powerOff(z.t, vm);
  await z.t.job('destroyVirtualMachine', { id: vm, expunge: 'true' });
  expect(await z.probe(name)).toBe(false);
  expect(owed(z.t, templateid)).toEqual([]);
}

/** ISOID (downloaded): attached to VMID and detached again (so a host has its copy), then deleteIso removes that copy at once. */
export async function deleteIsoRemovesCopy(z: CopyZone, isoid: string, vmid: string): Promise<void> {
  const name = copyName(z.t, isoid);
  await z.t.job('attachIso', { id: isoid, virtualmachineid: vmid });
  expect(await z.probe(name)).toBe(true);
  await z.t.job('detachIso', { virtualmachineid: vmid });
  await z.t.job('deleteIso', { id: isoid });
  expect(await z.probe(name)).toBe(false);
  expect(owed(z.t, isoid)).toEqual([]);
}

/** Registers URL as a template or ISO in the zone and waits until it is downloaded; its id. */
export async function registerDownloaded(t: TestEngine, command: 'registerTemplate' | 'registerIso', params: Record<string, string>): Promise<string> {
  const os = t.engine.db.prepare(`SELECT uuid FROM guest_os WHERE display_name='Other Linux (64-bit)'`).pluck().get() as string;
  const body = await t.ok(command, { ostypeid: os, displaytext: params['name'] ?? 'image', ...params });
  const id = (body[command === 'registerIso' ? 'iso' : 'template'] as { id: string }[])[0]!.id;
  await t.engine.images.wait(t.engine.db.prepare('SELECT id FROM templates WHERE uuid=?').pluck().get(id) as number);
  const row = t.engine.db.prepare('SELECT download_state, status FROM templates WHERE uuid=?').get(id) as { download_state: string; status: string };
  if (row.download_state !== 'DOWNLOADED') throw new Error(`${params['name']}: ${row.status}`);
  return id;
}
