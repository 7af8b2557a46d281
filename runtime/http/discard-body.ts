/**
 * A request body the route never read is read and discarded before the answer goes out, as nginx
 * discards one: closing the connection instead would cut a client still sending it, which then sees a
 * broken pipe instead of the answer. Bounded by the body limit (and by the server's request timeout).
 */

/** Reads `req`'s body to its end, dropping the bytes; false when it exceeds `maxBytes` or fails (then close the connection). */
export async function discardBody(req: Request, maxBytes: number): Promise<boolean> {
  if (req.body === null || req.bodyUsed) return true;
  const reader = req.body.getReader();
  let n = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return true;
      n += value.byteLength;
      if (n > maxBytes) {
        await reader.cancel().catch(() => undefined);
        return false;
      }
    }
  } catch {
    return false;
  }
}
