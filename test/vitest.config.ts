import { availableParallelism } from 'node:os';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60000,
    hookTimeout: 60000,
    pool: 'forks',
    // vitest's default (cores - 1) is one file at a time on a 2-core host, where most files wait on
    // child processes and the machine's worker threads: two at a time measured 49-51 s for the whole
    // suite against 70-75 s (threads instead of forks: no difference, 50 s)
    maxWorkers: Math.max(2, availableParallelism() - 1),
  },
});
