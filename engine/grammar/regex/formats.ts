/**
 * `format` as regular languages. Each pattern accepts a subset of what ajv-formats (full mode)
 * accepts, so constrained output always validates (e.g. `date` excludes Feb 29, `ipv6` is the
 * uncompressed form). Any other format is refused by the compiler (it cannot be honored).
 */
const DATE =
  '\\d{4}-(?:(?:0[13578]|1[02])-(?:0[1-9]|[12]\\d|3[01])|(?:0[469]|11)-(?:0[1-9]|[12]\\d|30)|02-(?:0[1-9]|1\\d|2[0-8]))';
const TIME = '(?:[01]\\d|2[0-3]):[0-5]\\d:[0-5]\\d(?:\\.\\d{1,9})?(?:Z|[+-](?:[01]\\d|2[0-3]):[0-5]\\d)';
const LABEL = '[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?';
const OCTET = '(?:25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)';
const URI_CHARS = "[A-Za-z0-9._~!$&'()*+,;=:@-]";

/** A format's regular language and any length limit that goes with it. */
export interface FormatSpec {
  pattern: string;
  maxLength?: number;
}

/** Formats ajv-formats does not check (any value passes), so the grammar need not either. */
export const UNCHECKED_FORMATS = new Set(['float', 'double', 'password', 'binary']);

/** Numeric formats, honored as bounds (int64 rounded inward to exact doubles). */
export const NUMBER_FORMATS: Record<string, [number, number]> = {
  int32: [-2147483648, 2147483647],
  int64: [-9223372036854774784, 9223372036854774784],
};

export const FORMATS: Record<string, FormatSpec> = {
  date: { pattern: `^${DATE}$` },
  time: { pattern: `^${TIME}$` },
  'date-time': { pattern: `^${DATE}T${TIME}$` },
  email: {
    pattern: `^[A-Za-z0-9_+-]+(?:\\.[A-Za-z0-9_+-]+)*@${LABEL}(?:\\.${LABEL})+$`,
  },
  uuid: { pattern: '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$' },
  uri: {
    pattern:
      `^[A-Za-z][A-Za-z0-9+.-]*:(?://(?:${LABEL}(?:\\.${LABEL})*(?::\\d{1,5})?)?(?:/${URI_CHARS}*)*|${URI_CHARS}+(?:/${URI_CHARS}*)*)` +
      `(?:\\?(?:${URI_CHARS}|[/?])*)?(?:#(?:${URI_CHARS}|[/?])*)?$`,
  },
  ipv4: { pattern: `^(?:${OCTET}\\.){3}${OCTET}$` },
  ipv6: { pattern: '^(?:[0-9a-fA-F]{1,4}:){7}[0-9a-fA-F]{1,4}$' },
  hostname: { pattern: `^${LABEL}(?:\\.${LABEL})*$`, maxLength: 253 },
};
FORMATS.byte = { pattern: '^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$' };
FORMATS['uri-reference'] = FORMATS.uri;
FORMATS['idn-email'] = FORMATS.email;
FORMATS['idn-hostname'] = FORMATS.hostname;
