/** Named errors raised by the engine floor. Native status codes become these at the boundary. */
import { ResidentError } from './util/resident-error.js';

/** Base class of every engine error. */
export class EngineError extends ResidentError {
  override name = 'EngineError';
  override code = 'engine_error';
  override status = 500;
}

/** A model folder cannot be loaded: names the file and, when relevant, the tensor. */
export class ModelLoadError extends EngineError {
  override name = 'ModelLoadError';
  override code = 'model_load_failed';
  override status = 500;
  constructor(message: string, readonly file?: string, readonly tensor?: string) {
    super(message);
  }
}

/** The model uses an architecture, dtype or option this engine does not support. */
export class UnsupportedModelError extends ModelLoadError {
  override name = 'UnsupportedModelError';
  override code = 'unsupported_model';
  override status = 500;
}

/** A call on a model, slot or engine that was already disposed. */
export class DisposedError extends EngineError {
  override name = 'DisposedError';
  override code = 'engine_disposed';
  override status = 503;
}

/** A write past a KV slot's capacity, or a position outside what the slot holds. */
export class KvCapacityError extends EngineError {
  override name = 'KvCapacityError';
  override code = 'context_length_exceeded';
  override status = 400;
  override param: string | null = 'messages';
}

/** Invalid arguments to an engine call (bad token id, batch too large, wrong shape). */
export class EngineArgumentError extends EngineError {
  override name = 'EngineArgumentError';
  override code = 'invalid_argument';
  override status = 400;
}
