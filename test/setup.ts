import { Testing } from 'cdktf';
import { expect } from 'vitest';

// cdktf ships jest matchers only; they need a global `expect` with `extend`.
(globalThis as unknown as { expect: typeof expect }).expect = expect;
Testing.setupJest();
