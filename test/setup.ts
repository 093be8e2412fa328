import { Testing } from 'cdktf';
import { expect } from 'vitest';

// cdktf ships jest matchers only; they need a global `expect` with `extend`.
(globalThis as unknown as { expect: typeof expect }).expect = expect;
Testing.setupJest();

declare module 'vitest' {
  interface Assertion<T = any> {
    toHaveResourceWithProperties(resource: { tfResourceType: string }, properties: Record<string, unknown>): T;
    toHaveResource(resource: { tfResourceType: string }): T;
  }
}
