import { it } from 'vitest';
import { evaluateRetrieval } from '../../src/eval/evaluate.js';
import { formatTable } from '../../src/eval/compare.js';
it('x', async () => {
  const t0 = performance.now();
  const r = await evaluateRetrieval({ dir: '/work/shared/datasets/oxford-flowers17', model: 'phash', config: { threads: 1 } });
  console.log(formatTable([r]), (performance.now() - t0) / 1000);
}, 300_000);
