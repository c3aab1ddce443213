import { defineConfig } from 'vitest/config';

/**
 * `npm run test:unit`: the inner loop — no servers (PostgreSQL, Redis), no browser, no build (nothing that spawns the
 * compiled CLI), nothing slow. The full suite (`npm test`, README's test command) runs all of it and more.
 */
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    exclude: [
      'node_modules/**',
      'test/reliability/**',
      'test/**/*.slow.test.ts', // end-to-end: crash, queue, web, pack, PostgreSQL faults
      'test/store/contract.test.ts', // runs against PostgreSQL too
      'test/store/postgres-*.test.ts',
      'test/cli/cli.test.ts', // these spawn the built CLI (dist/): end to end, in the full suite
      'test/cli/hardening.test.ts',
      'test/cli/usage.test.ts',
      'test/cli/json.test.ts', // worker --json needs Redis too
      'test/pack/**', // packaging and the system setup script
    ],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    maxWorkers: 2,
    minWorkers: 1,
  },
});
