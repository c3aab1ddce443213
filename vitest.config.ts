import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // the long scenarios run with `npm run test:reliability` (CI runs a shorter configuration of them: see .ci/run)
    exclude: ['test/reliability/**', 'node_modules/**'],
    globalSetup: ['test/setup/postgres.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Tests load ONNX models and spawn the CLI; two cores → two workers.
    maxWorkers: 2,
    minWorkers: 1,
    reporters: ['default'],
  },
});
