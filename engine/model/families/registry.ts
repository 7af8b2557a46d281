/**
 * The registry of model families: which module handles a Hugging Face `architectures` string, a GGUF
 * `general.architecture`, or a config's `arch`. The built-in families are listed here once; `registerFamily`
 * adds one at run time (tests register throw-away families through it).
 */
import { EngineArgumentError, UnsupportedModelError } from '../../errors.js';
import type { ModelConfig } from '../model-spec.js';
import type { ModelFamily } from './family.js';
import { minimaxFamily } from './minimax-m2.js';
import { qwen35Family } from './qwen35.js';
import { qwen3Family } from './qwen3.js';

const families: ModelFamily[] = [qwen3Family, qwen35Family, minimaxFamily];

/** Adds a family (its arch ids, HF and GGUF names must be new). Returns a function that removes it again. */
export function registerFamily(f: ModelFamily): () => void {
  for (const g of families) {
    const clash = [...f.archs.filter((a) => g.archs.includes(a)), ...f.hfArchitectures.filter((a) => g.hfArchitectures.includes(a)), ...f.ggufArchitectures.filter((a) => g.ggufArchitectures.includes(a))];
    if (clash.length) throw new EngineArgumentError(`family ${f.name}: ${clash.join(', ')} already belong to ${g.name}`);
  }
  families.push(f);
  return () => {
    const i = families.indexOf(f);
    if (i >= 0) families.splice(i, 1);
  };
}

/** The registered families, built-ins first. */
export function modelFamilies(): readonly ModelFamily[] {
  return families;
}

/** Every Hugging Face architectures string the registry loads, in order of preference. */
export function supportedHfArchitectures(): string[] {
  return families.flatMap((f) => f.hfArchitectures);
}

/** Every GGUF architecture the registry loads. */
export function supportedGgufArchitectures(): string[] {
  return families.flatMap((f) => f.ggufArchitectures);
}

/** The family and matched name for a config.json `architectures` list (the first family with any of them), or undefined. */
export function familyOfHf(archs: readonly string[]): { family: ModelFamily; hfArchitecture: string } | undefined {
  for (const family of families) {
    const hfArchitecture = family.hfArchitectures.find((a) => archs.includes(a));
    if (hfArchitecture) return { family, hfArchitecture };
  }
  return undefined;
}

/** The family of a GGUF `general.architecture`, or undefined. */
export function familyOfGguf(name: string): ModelFamily | undefined {
  return families.find((f) => f.ggufArchitectures.includes(name));
}

/** The family of a config; UnsupportedModelError (listing the registered families) for an arch none owns. */
export function familyOf(c: Pick<ModelConfig, 'arch'>, where = 'the model'): ModelFamily {
  const f = families.find((x) => x.archs.includes(c.arch));
  if (!f) throw new UnsupportedModelError(`${where}: architecture '${String(c.arch)}' belongs to no registered model family (${families.map((x) => `${x.name}: ${x.archs.join(', ')}`).join('; ')})`);
  return f;
}
