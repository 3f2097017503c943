/**
 * Format rules a parameter's value must follow, declared once on the parameter (ParamDef.rule):
 * the registry's parameter check enforces them, listApis publishes them (per parameter `pattern`
 * and `patternmessage`), and the renderer validates its fields from listApis, so the UI and the
 * API refuse the same values with the same words. Patterns are regular-expression sources that
 * mean the same in Node and in the browser.
 */
export interface ParamRule {
  /** A RegExp source the whole value must match. */
  pattern: string;
  /** What the value is not, after `<param>: "<value>" `. */
  message: string;
}

/** RFC 1123 host label, as CloudStack checks a VM's name: the guest's hostname (R1). */
export const HOSTNAME_RULE: ParamRule = {
  pattern: '^[A-Za-z](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$',
  message: 'is not a valid hostname: at most 63 characters of letters, digits and hyphens, starting with a letter and ending with a letter or digit',
};

/** An SSH host-key fingerprint as OpenSSH prints it. */
export const SSH_FINGERPRINT_RULE: ParamRule = {
  pattern: '^SHA256:[A-Za-z0-9+/]{43}$',
  message: 'is not an SSH host-key fingerprint: SHA256: followed by 43 base64 characters',
};

/** What a host is trusted by, as an admin accepts a changed one: an SSH host key or a TLS certificate's SHA-256 thumbprint (vCenter's AB:CD:… form). */
export const TRUST_FINGERPRINT_RULE: ParamRule = {
  pattern: '^(?:SHA256:[A-Za-z0-9+/]{43}|[0-9A-Fa-f]{2}(?::[0-9A-Fa-f]{2}){31})$',
  message: 'is neither an SSH host-key fingerprint (SHA256: followed by 43 base64 characters) nor a TLS certificate thumbprint (32 hex pairs, AB:CD:…)',
};

/** A KVM host's SSH address before it is added (probeHostKey): a host name or address, an optional port. */
export const SSH_URL_RULE: ParamRule = {
  pattern: '^ssh://(?:\\[[0-9A-Fa-f:.]+\\]|[^\\s/:@\\[\\]]+)(?::\\d{1,5})?/?$',
  message: 'is not an SSH host address: give ssh://host or ssh://host:port',
};

/** A dotted-quad IPv4 address (a pod's range, gateway and netmask, a zone's DNS servers), as CloudStack's NetUtils.isValidIp4. */
export const IPV4_RULE: ParamRule = {
  pattern: '^(?:25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)(?:\\.(?:25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)){3}$',
  message: 'is not an IPv4 address (four numbers 0-255 separated by dots)',
};

const compiled = new Map<string, RegExp>();

export function followsRule(rule: ParamRule, value: string): boolean {
  let re = compiled.get(rule.pattern);
  if (!re) compiled.set(rule.pattern, (re = new RegExp(rule.pattern)));
  return re.test(value);
}

/** The refusal text, naming the parameter (the registry wraps it in a 431). */
export function ruleMessage(param: string, value: string, rule: ParamRule): string {
  const shown = value.length > 64 ? `${value.slice(0, 64)}…` : value;
  return `${param}: "${shown}" ${rule.message}`;
}
