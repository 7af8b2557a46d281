/** `resident serve --help`: every flag of runtime/config.ts with its default. */
import { defaultThreads } from '../engine/native.js';
import { DEFAULT_DURABILITY } from '../sessions/journal-sync.js';
import { SERVE_DEFAULTS } from './config.js';

export const SERVE_FLAGS_HELP = `Options:
  --model PATH         Hugging Face model folder (BF16/F16/F32, or Qwen's FP8 releases: e4m3 with
                       128x128 block scales, converted to BF16 in memory at load), or a GGUF model
                       (FILE.gguf, a folder holding one, split NAME-00001-of-000NN.gguf) to serve
                       (default: a tiny random-weight demo model, generated once into DATA/models/)
  --demo-dtype D       weights of the demo model: f32 or bf16 (default ${SERVE_DEFAULTS.demoDtype})
  --model-name NAME    model id reported by /v1/models (default: the folder name)
  --model-alias NAME   another model name requests may use, listed by /v1/models (repeatable)
  --host HOST          address to listen on (default ${SERVE_DEFAULTS.host})
  --port N             port, 0 = any free port (default ${SERVE_DEFAULTS.port})
  --data DIR           data directory: sessions, demo model (default ${SERVE_DEFAULTS.dataDir})
  --api-key KEY        require 'Authorization: Bearer KEY' on every route but /health
                       (default: env RESIDENT_API_KEY; unset = no authentication)
  --keys FILE          tenants: a JSON or YAML file {"keys": {"<key>": {"tenant", "role": "user"|"admin",
                       "limits": {"sessions", "kv_bytes", "requests_per_minute"}}}}; each tenant sees
                       only its own sessions, responses and runs (admin: all); re-read on SIGHUP
  --threads N          engine threads (default: ${defaultThreads()})
  --weights MODE       native (default) or int8: matmul weights quantized at load, 32-value blocks
  --activations MODE   auto (default), f32 or bf16: with BF16 weights, matmul inputs rounded to bf16 as
                       llama.cpp does (AVX512_BF16 CPUs: ~1.9x prefill, faster batched decode); auto
                       picks bf16 exactly where the weights are BF16 and the CPU has AVX512_BF16
  --slots N            KV slots resident at once (default: typical 8192-token sessions that fit the
                       KV budget, 2..64; printed at start). More slots batch more streams per step but
                       each holds its KV; requests beyond the slots wait (--max-queue-wait)
  --kv-budget SIZE     KV bytes resident sessions may hold, e.g. 8G (default: half the memory
                       available at start after the weights, 256M..64G)
  --checkpoint-budget SIZE  hybrid models (Qwen3.5 / 3.6): recurrent-state checkpoint bytes each session
                       keeps for rollback, edit and fork (default 64M, or 8 states where larger)
  --context N          positions per KV slot (default: the model's maximum)
  --batch N            tokens per forward call (default ${SERVE_DEFAULTS.batchTokens})
  --prefill-share F    while streams decode, a step carrying a long prompt's chunk takes at most F ×
                       a decode-only step (default ${SERVE_DEFAULTS.prefillShare}); off: chunks take the whole budget
  --max-tokens N       completion budget when a request sets none (default ${SERVE_DEFAULTS.defaultMaxTokens})
  --max-body SIZE      largest request body (default 8M)
  --max-queue-wait MS  longest wait of a request for a KV slot while every slot is busy; then 429
                       with Retry-After and code slots_busy (default ${SERVE_DEFAULTS.maxQueueWaitMs})
  --durability MODE    session journals: batched (default) — each token is written before it is
                       sent and all journals are fdatasync'ed together every --sync-window ms (kill -9
                       loses nothing sent; a power cut at most the last window); strict — fdatasync
                       per session per token before it is sent
  --sync-window MS     batched: longest delay from a write to its fdatasync (default ${DEFAULT_DURABILITY.windowMs})
  --chat-sessions N    recent chat-completion histories kept for KV reuse (default ${SERVE_DEFAULTS.chatSessions})
  --stored-responses N Responses API responses kept with their sessions (store: true); the oldest
                       beyond N are deleted (default ${SERVE_DEFAULTS.storedResponses})
  --mcp-config FILE    MCP servers config ({"mcpServers": …}) for the agent loop
  --skills DIR         skills folder for the agent loop (repeatable)
  --allow-host NAME    a host name the Host header may carry (repeatable; * = any). IP addresses,
                       localhost and --host are always accepted; other names are refused (DNS rebinding)
  --allow-origin URL   an origin web pages may call from, e.g. https://app.example (repeatable; * =
                       any). Requests with any other Origin header are refused
  --headers-timeout S  seconds a client has to send its request headers (default ${SERVE_DEFAULTS.headersTimeoutS})
  --request-timeout S  seconds a client has to send its whole request, body included (default
                       ${SERVE_DEFAULTS.requestTimeoutS}); responses (long generations) are not limited
  --mcp-idle S         seconds an idle /mcp session is kept (default ${SERVE_DEFAULTS.mcpIdleS})
`;
