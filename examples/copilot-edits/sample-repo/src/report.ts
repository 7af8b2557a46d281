/** Builds a short report over a list of measurements. */
import { mean, median } from './math.js';
import { truncate } from './strings.js';

export interface Measurement {
  name: string;
  values: number[];
}

export function reportLine(m: Measurement): string {
  return `${truncate(m.name, 24).padEnd(24)} mean ${mean(m.values).toFixed(2)} median ${median(m.values).toFixed(2)}`;
}

export function report(ms: readonly Measurement[]): string {
  return ms.map(reportLine).join('\n');
}
