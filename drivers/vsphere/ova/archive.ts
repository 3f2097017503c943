/** An OVA's descriptor: a tar whose first member is the .ovf; every file the descriptor references must be in it. */
import { referencedFiles } from './descriptor.js';
import { listMembers, readMember, type TarMember } from './tar.js';

/** No real descriptor comes near this; a bound on what Kiln reads into memory and sends in one SOAP call. */
const MAX_DESCRIPTOR_BYTES = 4 * 1024 * 1024;

/** The OVA's descriptor text, after checking the archive's shape. */
export async function readDescriptor(file: string, members?: TarMember[]): Promise<{ xml: string; members: TarMember[] }> {
  const all = members ?? (await listMembers(file));
  const first = all[0];
  if (!first || !/\.ovf$/i.test(first.name)) throw new Error(`not an OVA: its first member is ${first ? JSON.stringify(first.name) : 'missing'}, not an .ovf descriptor`);
  const xml = await readMember(file, first, MAX_DESCRIPTOR_BYTES);
  for (const ref of referencedFiles(xml)) {
    if (!all.some((m) => m.name === ref.href)) throw new Error(`the OVF references ${JSON.stringify(ref.href)}, which the OVA does not contain`);
  }
  return { xml, members: all };
}
