/**
 * Deploying an OVA as it is described (R37–R38): OvfManager.CreateImportSpec with the chosen
 * deployment option, property values and network mapping, ResourcePool.ImportVApp, then each
 * disk the import spec asks for streamed from the archive to the lease's device URL, and
 * HttpNfcLeaseComplete. The import spec vCenter returns is sent back as it came (a decoded tree
 * re-encoded: every value escaped by the SOAP codec, like all text Kiln sends). A failed import
 * aborts the lease and destroys the half-made VM.
 */
import https from 'node:https';
import type { ApplianceDeploy } from '../../appliance.js';
import { DriverError } from '../../types.js';
import { PinnedAgent, ThumbprintTrust } from '../../tls-trust.js';
import type { VsphereEndpoint } from '../endpoint.js';
import { mapped } from '../errors.js';
import { MAX_VCENTER_NAME, toVcenterName } from '../names.js';
import { MoRef, asArray, asMoRef, asObject, asString, typed, vm as vim, type SoapValue, type VimValue } from '../soap/index.js';
import { placementOf, runTask, type TaskOptions } from '../vm-lifecycle.js';
import { listMembers, openMember, type TarMember } from './tar.js';
import { readDescriptor } from './archive.js';

export interface ImportArgs extends TaskOptions {
  name: string;
  host: MoRef;
  uuid?: string;
  datastore?: string;
  appliance: ApplianceDeploy;
}

/**
 * A decoded vim25 value as a value to send again: objects keep their xsi:type. A scalar `value`
 * is an anyType slot (OptionValue.value in extraConfig, where vCenter puts property values) whose
 * xsd:string type the decoder does not keep, so it is written back.
 */
function resend(value: VimValue, field?: string): SoapValue {
  if (value instanceof MoRef) return value;
  if (Array.isArray(value)) return value.map((v) => resend(v, field));
  if (typeof value !== 'object') return field === 'value' ? typed('xsd:string', String(value)) : value;
  const { $type, ...fields } = value;
  const out: Record<string, SoapValue> = {};
  for (const [k, v] of Object.entries(fields)) if (v !== undefined) out[k] = resend(v, k);
  return $type ? typed($type, out) : out;
}

const LEASE_READY_TIMEOUT_MS = 60_000;

async function leaseReady(ep: VsphereEndpoint, lease: MoRef, signal?: AbortSignal): Promise<Record<string, VimValue>> {
  const until = Date.now() + LEASE_READY_TIMEOUT_MS;
  for (;;) {
    const p = await ep.read(lease, ['state', 'error', 'info']);
    const state = asString(p['state']);
    if (state === 'ready') return p;
    if (state === 'error') throw new DriverError(`the import lease failed: ${asString(asObject(p['error'])['localizedMessage']) ?? 'no reason given'}`, 'failed');
    if (state === 'done') throw new DriverError('the import lease ended before the upload', 'failed');
    if (signal?.aborted) throw new DriverError('the import was cancelled', 'timeout');
    if (Date.now() > until) throw new DriverError(`the import lease was not ready within ${LEASE_READY_TIMEOUT_MS / 1000} s`, 'timeout');
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** PUTs one archive member to a lease device URL (the vCenter's own certificate, or the ESXi host's thumbprint vCenter gave). */
function upload(ep: VsphereEndpoint, file: string, member: TarMember, rawUrl: string, sslThumbprint: string | undefined, signal?: AbortSignal): Promise<void> {
  const vc = ep.client.transport.url;
  const url = new URL(rawUrl.replace('://*', `://${vc.host}`));
  const agent = url.host === vc.host || !sslThumbprint ? ep.client.transport.agent : new PinnedAgent(new ThumbprintTrust(sslThumbprint));
  return new Promise((resolve, reject) => {
    const req = https.request(url, {
      method: 'PUT', agent, signal,
      headers: { 'Content-Type': 'application/x-vnd.vmware-streamVmdk', 'Content-Length': String(member.size), Overwrite: 't' },
    }, (res) => {
      res.resume();
      res.on('end', () => (res.statusCode && res.statusCode < 300 ? resolve() : reject(new DriverError(`uploading ${member.name}: HTTP ${res.statusCode}`, 'failed'))));
    });
    req.on('error', (e) => reject(new DriverError(`uploading ${member.name}: ${e.message}`, 'failed')));
    openMember(file, member).on('error', (e) => req.destroy(e)).pipe(req);
  });
}

/** Imports the appliance onto HOST (powered off) and returns the VM. */
export async function importAppliance(ep: VsphereEndpoint, a: ImportArgs): Promise<MoRef> {
  ep.assertReachable(`deploying ${a.name}`);
  const vcName = toVcenterName(a.name);
  if (vcName.length === 0 || vcName.length > MAX_VCENTER_NAME) throw new DriverError(`the vCenter name of a VM is 1 to ${MAX_VCENTER_NAME} characters`, 'invalid');
  if (ep.cache.vmsNamed(vcName).length > 0) throw new DriverError(`a VM named ${JSON.stringify(a.name)} already exists in vCenter`, 'invalid');
  const ovfManager = ep.client.serviceContent.ovfManager;
  if (!ovfManager) throw new DriverError('this vSphere endpoint has no OvfManager', 'unsupported');
  const file = a.appliance.image.path;
  const members = await listMembers(file);
  const { xml } = await readDescriptor(file, members);
  const where = placementOf(ep, a.host);
  const datastore = a.datastore !== undefined ? ep.datastore(a.datastore, where.datastores).ref : where.datastores[0];
  if (!datastore) throw new DriverError(`host ${a.host.value} has no datastore`, 'not-found');
  const networkMapping = Object.entries(a.appliance.networks).map(([name, target]) => {
    const net = ep.networkNamed(target);
    if (!net) throw new DriverError(`no network named ${JSON.stringify(target)} in vCenter (for the appliance's network ${JSON.stringify(name)})`, 'not-found');
    return { name, network: net.ref };
  });
  // OvfCreateImportSpecParams in XSD order: locale, deploymentOption (OvfManagerCommonParams), entityName, hostSystem, networkMapping, propertyMapping, diskProvisioning.
  const result = asObject(await mapped(`reading ${a.name}'s OVF`, () => ep.client.call('CreateImportSpec', ovfManager, {
    ovfDescriptor: xml, resourcePool: where.pool, datastore,
    cisp: {
      locale: '', deploymentOption: a.appliance.option ?? '', entityName: vcName, hostSystem: a.host,
      networkMapping, propertyMapping: Object.entries(a.appliance.properties).map(([key, value]) => ({ key, value })), diskProvisioning: 'thin',
    },
  }, { returnType: 'OvfCreateImportSpecResult' })));
  const errors = asArray(result['error']).map((e) => asString(asObject(e)['localizedMessage']) ?? 'error');
  if (errors.length > 0) throw new DriverError(`vCenter refused the OVF: ${errors.join('; ')}`, 'invalid');
  const importSpec = result['importSpec'];
  if (!importSpec) throw new DriverError('CreateImportSpec returned no import spec', 'failed');
  const spec = resend(importSpec);
  const fileItems = asArray(result['fileItem']).map(asObject);
  const lease = asMoRef(await mapped(`importing ${a.name}`, () => ep.client.call('ImportVApp', where.pool, { spec, folder: where.folder, host: a.host })));
  if (!lease) throw new DriverError('ImportVApp returned no lease', 'failed');
  let entity: MoRef | undefined;
  try {
    const props = await leaseReady(ep, lease, a.signal);
    const info = asObject(props['info']);
    entity = asMoRef(info['entity']);
    const urls = asArray(info['deviceUrl']).map(asObject);
    let sent = 0;
    for (const item of fileItems) {
      const path = asString(item['path']);
      const member = members.find((m) => m.name === path);
      if (!member) throw new DriverError(`the OVA has no ${JSON.stringify(path)}, which its OVF references`, 'invalid');
      const target = urls.find((u) => asString(u['importKey']) === asString(item['deviceId']));
      if (!target) throw new DriverError(`the import lease has no device for ${path}`, 'failed');
      await upload(ep, file, member, asString(target['url']) ?? '', asString(target['sslThumbprint']) || undefined, a.signal);
      sent++;
      await ep.client.call('HttpNfcLeaseProgress', lease, { percent: Math.round((sent * 100) / fileItems.length) }).catch(() => undefined);
      a.onProgress?.(Math.round((sent * 100) / fileItems.length));
    }
    await mapped(`completing the import of ${a.name}`, () => ep.client.call('HttpNfcLeaseComplete', lease));
    if (!entity) throw new DriverError('the import lease names no VM', 'failed');
    const made = entity;
    if (a.uuid) await mapped(`setting the uuid of ${a.name}`, () => runTask(() => vim.reconfigure(ep.client, made, { uuid: a.uuid }), { signal: a.signal }));
    await mapped(`reading ${a.name}`, () => ep.cache.admit(made));
    return made;
  } catch (e) {
    // The VM exists from ImportVApp on (vcsim makes it at once); a failure before the lease said which one still removes it.
    entity ??= await ep.read(lease, ['info']).then((p) => asMoRef(asObject(p['info'])['entity']), () => undefined);
    await ep.client.call('HttpNfcLeaseAbort', lease).catch(() => undefined);
    if (entity) {
      const orphan = entity;
      await runTask(() => vim.destroy(ep.client, orphan)).catch(() => undefined);
    }
    throw e;
  }
}
