/**
 * An appliance property and the one check of a value against it (type, qualifiers, range), with
 * no Node import: the engine's deploy check and the deploy wizard's both use this file.
 */

/** A property the appliance asks for at deploy (OVF ProductSection Property). */
export interface ApplianceProperty {
  /** The key the platform maps it by (OVF: class.key.instance). */
  key: string;
  /** The value's kind, for the input and the check. */
  type: 'string' | 'boolean' | 'int' | 'real';
  /** The type as the descriptor writes it (string, uint16, password…). */
  declaredType: string;
  /** The default value. */
  value?: string;
  /** Masked in the UI and sealed in Kiln's database. */
  password: boolean;
  /** False: the default is used and no one may set it. */
  userConfigurable: boolean;
  /** The qualifiers as written (MinLen(8), ValueMap{"a","b"}), for display. */
  qualifiers?: string;
  label?: string;
  description?: string;
  category?: string;
  /** Order in the descriptor. */
  index: number;
  /** The qualifiers and the type's range, read: what a value must meet (checkApplianceValue). */
  minLength?: number;
  maxLength?: number;
  choices?: string[];
  min?: number;
  max?: number;
}

/**
 * What is wrong with VALUE for property P, in words for a 431 and the wizard, or undefined.
 * One rule for the engine's check and the deploy wizard's (renderer imports this file).
 */
export function checkApplianceValue(p: Pick<ApplianceProperty, 'key' | 'type' | 'minLength' | 'maxLength' | 'choices' | 'min' | 'max' | 'label'>, value: string): string | undefined {
  const name = p.label ? `${p.label} (${p.key})` : p.key;
  if (p.choices && p.choices.length > 0 && !p.choices.includes(value)) return `${name}: one of ${p.choices.map((c) => JSON.stringify(c)).join(', ')}`;
  switch (p.type) {
    case 'boolean':
      if (value !== 'true' && value !== 'false') return `${name}: true or false`;
      return undefined;
    case 'int':
    case 'real': {
      const ok = p.type === 'int' ? /^-?\d+$/.test(value) : /^-?\d+(\.\d+)?$/.test(value);
      if (!ok) return `${name}: ${p.type === 'int' ? 'a whole number' : 'a number'}`;
      const n = Number(value);
      if (p.min !== undefined && n < p.min) return `${name}: at least ${p.min}`;
      if (p.max !== undefined && n > p.max) return `${name}: at most ${p.max}`;
      return undefined;
    }
    default:
      if (p.minLength !== undefined && value.length < p.minLength) return `${name}: at least ${p.minLength} character${p.minLength === 1 ? '' : 's'}`;
      if (p.maxLength !== undefined && value.length > p.maxLength) return `${name}: at most ${p.maxLength} character${p.maxLength === 1 ? '' : 's'}`;
      return undefined;
  }
}
