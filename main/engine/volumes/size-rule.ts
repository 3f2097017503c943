/**
 * A volume size in GiB (the engine multiplies it by 1024³), as createVolume and resizeVolume take it: CloudStack's
 * custom.diskoffering.size.min (1) to .max (1024). One rule: the registry refuses other values
 * with a 431 naming `size`, and listApis publishes it so the UI checks the field the same way.
 */
import type { ParamRule } from '../registry/param-rules.js';

export const VOLUME_SIZE_RULE: ParamRule = {
  pattern: '^(?:[1-9][0-9]{0,2}|10[01][0-9]|102[0-4])$',
  message: 'is not a volume size in GiB: a whole number from 1 to 1024',
};
