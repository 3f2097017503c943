/**
 * How a driver parses the XML a hypervisor's API writes when user text travels in it (the KVM
 * driver's libvirt XML, the vSphere driver's SOAP responses): names, descriptions and paths must
 * come back exactly as they were sent. So every value stays a string ("007" is a name, not a
 * number), nothing is trimmed (leading or trailing spaces are part of a name), and numeric
 * character references (&#10;, &#34;: how XML writers put control characters and quotes) are
 * decoded. Attributes are kept, under '@_', and text under '#text'. A driver adds its own options
 * on top (which elements always parse as arrays).
 */
import type { X2jOptions } from 'fast-xml-parser';

export const EXACT_XML_PARSING: X2jOptions = {
  ignoreAttributes: false,
  attributeNamePrefix: '@_',
  textNodeName: '#text',
  parseTagValue: false,
  parseAttributeValue: false,
  trimValues: false,
  htmlEntities: true,
};
