/** The byte-to-char table of byte-level BPE. */
/** GPT-2 byte-to-unicode table of byte-level BPE: printable bytes map to themselves, the others to U+0100 upwards. */
export const BYTE_CHAR: readonly string[] = (() => {
  const table: string[] = [];
  let n = 0;
  for (let b = 0; b < 256; b++) {
    const printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
    table.push(String.fromCharCode(printable ? b : 256 + n++));
  }
  return table;
})();
