/** The names the served model answers to: its id and the `--model-alias` names. */
import type { Host } from '../host/host.js';
import { HttpError } from './errors.js';

/** All names, the id first. */
export const modelNames = (host: Host): string[] => [host.modelId, ...host.config.modelAliases.filter((a) => a !== host.modelId)];

/**
 * The model name a response reports for a requested `model`: the name asked for when it is one of
 * ours (clients that insist on their own name get it back), the id when none is given; 404 otherwise.
 */
export function servedModel(host: Host, requested: string | undefined | null): string {
  if (requested == null) return host.modelId;
  if (modelNames(host).includes(requested)) return requested;
  throw new HttpError(404, `the model '${requested}' does not exist (this server serves ${modelNames(host).map((n) => `'${n}'`).join(', ')})`, 'invalid_request_error', 'model', 'model_not_found');
}

/** The OpenAI model object of one name. */
export const modelObject = (host: Host, id: string) => ({ id, object: 'model', created: Math.floor(host.startedAt / 1000), owned_by: 'resident', max_model_len: host.capacity });
