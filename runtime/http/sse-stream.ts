/**
 * A server-sent-events response with named events (`event: <name>` + `data: <json>`), as the
 * Responses and Messages APIs stream. `produce` sends events until done; closing the connection
 * runs `onCancel` (which should abort the turn) and makes further sends no-ops. An error thrown
 * by `produce` is sent as one last event built by `onError`.
 */
const enc = new TextEncoder();

/** Sends one event; a no-op once the client is gone. */
export type SendEvent = (name: string, data: unknown) => void;

export interface SseHooks {
  onCancel?: () => void;
  /** The final event for an error thrown mid-stream: [name, data]. */
  onError: (e: unknown) => [string, unknown];
}

export function sseResponse(produce: (send: SendEvent, isClosed: () => boolean) => Promise<void>, hooks: SseHooks): Response {
  let closed = false;
  const body = new ReadableStream<Uint8Array>({
    async start(ctl) {
      const send: SendEvent = (name, data) => {
        if (!closed) ctl.enqueue(enc.encode(`event: ${name}\ndata: ${JSON.stringify(data)}\n\n`));
      };
      try {
        await produce(send, () => closed);
      } catch (e) {
        send(...hooks.onError(e));
      } finally {
        if (!closed) {
          closed = true;
          ctl.close();
        }
      }
    },
    cancel() {
      closed = true;
      hooks.onCancel?.();
    },
  });
  return new Response(body, { status: 200, headers: { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', 'x-accel-buffering': 'no' } });
}
