/** Named errors raised by the engine floor. Native status codes become these at the boundary. */

/** Base class of every engine error. */
export class EngineError extends Error {
  override name = 'EngineError';
}

/** A model folder cannot be loaded: names the file and, when relevant, the tensor. */
export class ModelLoadError extends EngineError {
  override name = 'ModelLoadError';
  constructor(message: string, readonly file?: string, readonly tensor?: string) {
    super(message);
  }
}

/** The model uses an architecture, dtype or option this engine does not support. */
export class UnsupportedModelError extends ModelLoadError {
  override name = 'UnsupportedModelError';
}

/** A call on a model, slot or engine that was already disposed. */
export class DisposedError extends EngineError {
  override name = 'DisposedError';
}

/** A write past a KV slot's capacity, or a position outside what the slot holds. */
export class KvCapacityError extends EngineError {
  override name = 'KvCapacityError';
}

/** Invalid arguments to an engine call (bad token id, batch too large, wrong shape). */
export class EngineArgumentError extends EngineError {
  override name = 'EngineArgumentError';
}
