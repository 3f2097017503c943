/**
 * The values the vim25 layer sends and receives. Requests are built from plain objects (key
 * order is element order, which vCenter checks against the XSD), with `MoRef` for managed
 * object references and `typed()` where the schema wants an xsi:type (a subtype in a base-type
 * slot, or any value in an anyType slot). Responses decode to `VimValue`: strings, numbers and
 * booleans where the type is known, `MoRef`s, arrays and objects carrying their `$type`.
 */

/** A ManagedObjectReference: the server's own id of an object (vm-42), with its type. */
export class MoRef {
  constructor(
    readonly type: string,
    readonly value: string,
  ) {}

  equals(other: MoRef | undefined | null): boolean {
    return !!other && other.type === this.type && other.value === this.value;
  }

  toString(): string {
    return `${this.type}:${this.value}`;
  }
}

export function moref(type: string, value: string): MoRef {
  return new MoRef(type, value);
}

/** A value sent with an explicit xsi:type ("VirtualMachineConfigSpec", "xsd:string" …). */
export class Typed {
  constructor(
    readonly xsiType: string,
    readonly value: SoapValue,
  ) {}
}

export function typed(xsiType: string, value: SoapValue): Typed {
  return new Typed(xsiType, value);
}

export type SoapValue = string | number | bigint | boolean | Date | MoRef | Typed | null | undefined | SoapValue[] | SoapObject;
export interface SoapObject {
  [field: string]: SoapValue;
}

export type VimValue = string | number | boolean | MoRef | VimValue[] | VimObject;
export interface VimObject {
  /** The xsi:type the server wrote, when it wrote one. */
  $type?: string;
  [field: string]: VimValue | undefined;
}

/** One element where the server may have sent none, one or many. */
export function asArray(value: VimValue | undefined): VimValue[] {
  if (value === undefined) return [];
  return Array.isArray(value) ? value : [value];
}

export function isVimObject(value: VimValue | undefined): value is VimObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof MoRef);
}

export function asObject(value: VimValue | undefined): VimObject {
  return isVimObject(value) ? value : {};
}

export function asMoRef(value: VimValue | undefined): MoRef | undefined {
  return value instanceof MoRef ? value : undefined;
}

export function asString(value: VimValue | undefined): string | undefined {
  return typeof value === 'string' ? value : typeof value === 'number' || typeof value === 'boolean' ? String(value) : undefined;
}

export function asNumber(value: VimValue | undefined): number | undefined {
  if (typeof value === 'number') return value;
  if (typeof value === 'string' && value.trim() !== '' && Number.isFinite(Number(value))) return Number(value);
  return undefined;
}
