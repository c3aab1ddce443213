import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../helpers.js';

describe('SIMD kernels', () => {
  it('the committed wasm module is compiled from kernels.wat', () => {
    const out = execFileSync(process.execPath, [path.join(ROOT, 'scripts', 'build-wasm.mjs'), '--check'], { encoding: 'utf8' });
    expect(out).toContain('up to date');
  });
});
