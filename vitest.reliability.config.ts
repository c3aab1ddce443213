import { defineConfig } from 'vitest/config';

/** `npm run test:reliability`: the slow crash/concurrency scenarios (RELIABILITY_IMAGES, RELIABILITY_ROUNDS). */
export default defineConfig({
  test: {
    include: ['test/reliability/**/*.test.ts'],
    globalSetup: ['test/setup/postgres.ts'],
    testTimeout: 900_000,
    hookTimeout: 300_000,
    maxWorkers: 1,
    minWorkers: 1,
  },
});
