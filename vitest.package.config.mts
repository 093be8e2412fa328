import { defineConfig } from 'vitest/config';

// `npm run test:package`: the packed package installed into a user's project (needs the npm
// registry or its cache; about 20 s), kept out of `npm test` so that stays fast.
export default defineConfig({
  test: {
    include: ['test/package/**/*.test.ts'],
    testTimeout: 300_000,
  },
});
