#!/usr/bin/env node
// Entry point of the `resident` CLI: runs the TypeScript sources through tsx's ESM loader.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../runtime/cli.ts');
process.exitCode = await main(process.argv.slice(2));
