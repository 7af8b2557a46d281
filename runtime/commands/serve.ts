/** `resident serve`: the OpenAI-compatible HTTP server (`npm start`). */
import { UsageError, type Command } from '../command.js';
import { ConfigError, parseServeArgs } from '../config.js';
import { SERVE_FLAGS_HELP } from '../config-help.js';
import { Host } from '../host/host.js';
import { startHttpServer } from '../http/server.js';
import { agentServiceFor } from '../agent/service.js';
import { mcpEndpointFor } from '../mcp/http.js';

const usage = `Usage: resident serve [options]

Serves /v1/chat/completions and /v1/responses (OpenAI-compatible; streaming, tools, tool_choice,
structured output; responses are stateful through previous_response_id), /v1/messages (Anthropic-
compatible), /v1/models, the session API /v1/sessions, /metrics (Prometheus) and /health. With no
--model, a tiny random-weight demo model is generated once into the data directory and served.

${SERVE_FLAGS_HELP}`;

export const command: Command = {
  name: 'serve',
  summary: 'run the OpenAI-compatible HTTP server (default: an embedded demo model)',
  usage,
  async run(argv) {
    let host: Host | undefined;
    try {
      const config = parseServeArgs(argv);
      host = new Host(config);
      const t0 = performance.now();
      await host.start();
      const server = await startHttpServer(host);
      process.stderr.write(
        `resident: serving ${host.modelId} (${host.engine.config.nLayers} layers, ${host.engine.weightMode === 'int8' ? `int8 from ${host.engine.weightDtype}` : host.engine.weightDtype}, context ${host.capacity}, ${host.engine.threads} threads, ${host.engine.kernels}) ` +
          `at ${server.url}/v1 — ready in ${((performance.now() - t0) / 1000).toFixed(1)} s${config.keysFile ? ` (keys of ${host.tenants.tenantIds().length} tenants from ${config.keysFile}; SIGHUP re-reads it)` : config.apiKey ? ' (API key required)' : ''}\n`,
      );
      for (const n of host.resolved?.notes ?? []) process.stderr.write(`resident: ${n}\n`);
      host.tenants.watch();
      process.stderr.write(`resident: journal durability ${config.durability}${config.durability === 'batched' ? ` (fdatasync every ${config.syncWindowMs} ms)` : ' (fdatasync per token)'}\n`);
      await new Promise<void>((resolve) => {
        const stop = (sig: string) => {
          process.stderr.write(`resident: ${sig}: shutting down (snapshotting resident sessions)…\n`);
          resolve();
        };
        process.once('SIGINT', () => stop('SIGINT'));
        process.once('SIGTERM', () => stop('SIGTERM'));
      });
      host.tenants.unwatch();
      await server.close();
      // runs in flight are recorded as interrupted (resumable); MCP child processes are closed
      await agentServiceFor(host).close();
      await mcpEndpointFor(host).close();
      await host.close();
      return 0;
    } catch (e) {
      await host?.close().catch(() => undefined);
      if (e instanceof ConfigError) {
        if (/^Unknown option|^Option '/.test(e.message)) throw new UsageError(e.message);
        process.stderr.write(`resident serve: ${e.message}\n`);
        return 2;
      }
      throw e;
    }
  },
};
