/**
 * HTML → readable text without a DOM: drops scripts/styles/comments, turns block structure into
 * line breaks, headings into `#` lines, list items into `- ` lines, links into `[text](url)`,
 * decodes entities and collapses whitespace. Good enough for a model to read a page.
 */

const NAMED: Record<string, string> = {
  amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: ' ', ensp: ' ', emsp: ' ', thinsp: ' ',
  copy: '©', reg: '®', trade: '™', hellip: '…', mdash: '—', ndash: '–', minus: '−',
  lsquo: '‘', rsquo: '’', sbquo: '‚', ldquo: '“', rdquo: '”', bdquo: '„', laquo: '«', raquo: '»',
  bull: '•', middot: '·', deg: '°', plusmn: '±', times: '×', divide: '÷', micro: 'µ', para: '¶',
  sect: '§', euro: '€', pound: '£', yen: '¥', cent: '¢', shy: '', zwj: '', zwnj: '', larr: '←',
  rarr: '→', uarr: '↑', darr: '↓', harr: '↔', le: '≤', ge: '≥', ne: '≠', asymp: '≈', infin: '∞',
  frac12: '½', frac14: '¼', frac34: '¾', sup2: '²', sup3: '³', iexcl: '¡', iquest: '¿',
  auml: 'ä', ouml: 'ö', uuml: 'ü', Auml: 'Ä', Ouml: 'Ö', Uuml: 'Ü', szlig: 'ß', eacute: 'é',
  egrave: 'è', ecirc: 'ê', aacute: 'á', agrave: 'à', acirc: 'â', ccedil: 'ç', ntilde: 'ñ',
  oacute: 'ó', iacute: 'í', uacute: 'ú', aring: 'å', oslash: 'ø', aelig: 'æ', Eacute: 'É',
};

/** Decodes named (common subset) and numeric character references. */
export function decodeEntities(text: string): string {
  return text.replace(/&(#[xX][0-9a-fA-F]{1,6}|#[0-9]{1,7}|[a-zA-Z][a-zA-Z0-9]{1,31});?/g, (m, ref: string) => {
    if (ref[0] === '#') {
      const code = ref[1] === 'x' || ref[1] === 'X' ? parseInt(ref.slice(2), 16) : parseInt(ref.slice(1), 10);
      if (!Number.isFinite(code) || code === 0 || code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff)) return '\uFFFD';
      return String.fromCodePoint(code);
    }
    return NAMED[ref] ?? m;
  });
}

const DROP = /<(script|style|noscript|template|svg|math|iframe|object|canvas|select|button)\b[^>]*>[\s\S]*?<\/\1\s*>/gi;
const BLOCK =
  /<\/?(p|div|section|article|main|header|footer|nav|aside|table|thead|tbody|tfoot|tr|ul|ol|dl|dt|dd|blockquote|pre|figure|figcaption|form|fieldset|address|details|summary|hr|center)\b[^>]*>/gi;

/** The page title, decoded and trimmed, or undefined. */
export function htmlTitle(html: string): string | undefined {
  const m = /<title\b[^>]*>([\s\S]*?)<\/title\s*>/i.exec(html);
  const t = m ? decodeEntities(m[1]!.replace(/<[^>]*>/g, '')).replace(/\s+/g, ' ').trim() : '';
  return t || undefined;
}

/** Readable text of an HTML document; `baseUrl` resolves relative links (links omitted when absent). */
export function htmlToText(html: string, baseUrl?: string): string {
  let s = html.replace(/<!--[\s\S]*?-->/g, ' ').replace(/<!\[CDATA\[[\s\S]*?\]\]>/g, ' ');
  s = s.replace(/<head\b[^>]*>[\s\S]*?<\/head\s*>/gi, ' ');
  s = s.replace(/<title\b[^>]*>[\s\S]*?<\/title\s*>/gi, ' ');
  s = s.replace(DROP, ' ');
  s = s.replace(/<(script|style)\b[^>]*>[\s\S]*$/gi, ' '); // unterminated script/style at the end
  s = s.replace(/<h([1-6])\b[^>]*>([\s\S]*?)<\/h\1\s*>/gi, (_m, level: string, inner: string) =>
    `\n\n${'#'.repeat(Number(level))} ${inner.replace(/\s+/g, ' ').trim()}\n\n`);
  s = s.replace(/<a\b([^>]*)>([\s\S]*?)<\/a\s*>/gi, (_m, attrs: string, inner: string) => linkText(attrs, inner, baseUrl));
  s = s.replace(/<li\b[^>]*>/gi, '\n- ');
  s = s.replace(/<br\s*\/?>/gi, '\n');
  s = s.replace(/<\/?(td|th)\b[^>]*>/gi, ' \t ');
  s = s.replace(/<img\b[^>]*\balt\s*=\s*("([^"]*)"|'([^']*)')[^>]*>/gi, (_m, _q, a?: string, b?: string) => {
    const alt = (a ?? b ?? '').trim();
    return alt ? ` [image: ${alt}] ` : ' ';
  });
  s = s.replace(BLOCK, '\n\n');
  s = s.replace(/<\/?[a-zA-Z][^>]*>/g, '');
  s = s.replace(/<\/?[a-zA-Z!?][^>]*$/g, ''); // a tag cut off at the end (truncated body)
  s = decodeEntities(s);
  return tidy(s);
}

function linkText(attrs: string, inner: string, baseUrl: string | undefined): string {
  const text = inner.replace(/<[^>]*>/g, ' ').replace(/\s+/g, ' ').trim();
  const m = /\bhref\s*=\s*("([^"]*)"|'([^']*)'|([^\s>]+))/i.exec(attrs);
  const raw = m ? decodeEntities(m[2] ?? m[3] ?? m[4] ?? '') : '';
  if (!baseUrl || !raw || raw.startsWith('#') || !text) return text;
  let href: string;
  try {
    href = new URL(raw, baseUrl).href;
  } catch {
    return text;
  }
  if (!/^https?:/i.test(href)) return text;
  return `[${text}](${href})`;
}

/** Collapses runs of spaces per line, trims lines, keeps at most one blank line between blocks. */
export function tidy(text: string): string {
  return text
    .replace(/\r\n?/g, '\n')
    .split('\n')
    .map((line) => line.replace(/[ \t\f\v\u00a0]+/g, ' ').trim())
    .join('\n')
    .replace(/\n{3,}/g, '\n\n')
    .trim();
}
