// Floor: load cdktf and the provider bindings the library uses, nothing else.
const t0 = performance.now();
require('cdktf');
require('constructs');
require('@cdktf/provider-docker');
require('@cdktf/provider-random');
require('@cdktf/provider-tls');
const t1 = performance.now();
process.stdout.write(JSON.stringify({ loadMs: t1 - t0, constructMs: 0, synthMs: 0 }) + '\n');
