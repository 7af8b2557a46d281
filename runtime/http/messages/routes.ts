import type { Hono } from 'hono';
import type { Host } from '../../host/host.js';
export function registerMessagesRoutes(app: Hono, host: Host): void {
  void app; void host;
}
