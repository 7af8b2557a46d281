import { parseArgs } from 'node:util';
import { loadModelSpecFrom } from '../../engine/model/load-model.js';
import { defaultThreads, loadEngine } from '../../engine/native.js';
import { logSoftmaxTopK } from '../../engine/decode/sampler.js';
import { UsageError, type Command } from '../command.js';

const USAGE = `resident score --model DIR --tokens 1,2,3… [--top 10] [--json] [--threads N]

Prints the top-k next-token log-probs after every position of the token sequence (full softmax over
the vocabulary, temperature 1, no penalties). Entry pos is the distribution of the token following
position pos. With --json: {tokens: [...], positions: [{pos, top: [{id, logprob}]}]}.

Options:
  --model PATH    Hugging Face model folder or GGUF model (FILE.gguf / folder holding one) (required)
  --tokens LIST   comma-separated token ids (required)
  --top K         how many tokens per position (default 10)
  --threads N     engine threads (default: ${defaultThreads()})
  --json          machine-readable output
`;

export const command: Command = {
  name: 'score',
  summary: 'top-k next-token log-probs at every position of a token sequence',
  usage: USAGE,
  async run(argv) {
    const { values } = parseArgs({
      args: argv,
      options: { model: { type: 'string' }, tokens: { type: 'string' }, top: { type: 'string' }, threads: { type: 'string' }, json: { type: 'boolean' } },
      strict: true,
    });
    if (!values.model) throw new UsageError('--model DIR is required');
    if (!values.tokens) throw new UsageError('--tokens 1,2,3… is required');
    const tokens = values.tokens.split(',').map((s) => s.trim()).filter((s) => s !== '').map(Number);
    if (tokens.length === 0 || tokens.some((t) => !Number.isInteger(t) || t < 0))
      throw new UsageError(`--tokens must be comma-separated non-negative integers, got '${values.tokens}'`);
    const top = values.top === undefined ? 10 : Number(values.top);
    if (!Number.isInteger(top) || top < 1) throw new UsageError(`--top must be a positive integer, got '${values.top}'`);
    const threads = values.threads === undefined ? defaultThreads() : Number(values.threads);
    if (!Number.isInteger(threads) || threads < 1) throw new UsageError(`--threads must be a positive integer, got '${values.threads}'`);

    const spec = await loadModelSpecFrom(values.model);
    const vocab = spec.config.vocabSize;
    const bad = tokens.find((t) => t >= vocab);
    if (bad !== undefined) throw new UsageError(`token ${bad} is outside the model's vocabulary of ${vocab}`);
    const engine = await loadEngine(spec, { threads, maxBatchTokens: Math.min(512, tokens.length) });
    try {
      const slot = engine.createSlot(tokens.length, 'f32');
      const [out] = await engine.forward([{ slot, tokens, logits: 'all' }]);
      const positions = out!.positions.map((pos, r) => ({
        pos,
        top: logSoftmaxTopK(out!.data.subarray(r * vocab, (r + 1) * vocab), top).map((e) => ({ id: e.id, logprob: e.logprob })),
      }));
      if (values.json) {
        process.stdout.write(JSON.stringify({ tokens, positions }) + '\n');
      } else {
        for (const p of positions) {
          process.stdout.write(`pos ${p.pos} (token ${tokens[p.pos]}): ${p.top.map((e) => `${e.id}:${e.logprob.toFixed(4)}`).join(' ')}\n`);
        }
      }
      slot.dispose();
    } finally {
      engine.dispose();
    }
    return 0;
  },
};
