#!/usr/bin/env node
/**
 * The `lookalike` command (see `./program.ts`). This entry only turns on Node.js's on-disk compile cache (Node.js
 * 22.8+; `NODE_DISABLE_COMPILE_CACHE=1` turns it off, `NODE_COMPILE_CACHE=dir` moves it) before the program's
 * modules are loaded — compiled once, later runs start faster (issue 18.5) — then runs the program.
 */
import module from 'node:module';

(module as { enableCompileCache?: () => unknown }).enableCompileCache?.();
const { main } = await import('./program.js');
process.exitCode = await main(process.argv);
