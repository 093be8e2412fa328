// The full DistributedWebStack (as examples/basic builds it), synthesized.
// Usage: node full.js OUTDIR LIBDIR APPDIR   (LIBDIR: the library compiled to JavaScript)
// Loading is timed per package, in dependency order (each later require finds the earlier ones cached).
const loadBreakdown = {};
const timedRequire = (label, id) => {
  const t = performance.now();
  const m = require(id);
  loadBreakdown[label] = performance.now() - t;
  return m;
};
const t0 = performance.now();
const { App, TerraformStack } = timedRequire('cdktf', 'cdktf');
timedRequire('@cdktf/provider-docker', '@cdktf/provider-docker');
timedRequire('@cdktf/provider-random', '@cdktf/provider-random');
timedRequire('@cdktf/provider-tls', '@cdktf/provider-tls');
timedRequire('zod', 'zod');
const { DistributedWebStack } = timedRequire('the library itself', process.argv[3]);
const t1 = performance.now();
const app = new App({ outdir: process.argv[2] });
const stack = new TerraformStack(app, 'full');
new DistributedWebStack(stack, 'web', {
  namePrefix: 'full',
  codebase: { directory: process.argv[4] },
  loadBalancer: { publish: { address: '127.0.0.1', httpPort: 8080, httpsPort: 8443 } },
  database: { engine: 'mysql' },
});
const t2 = performance.now();
app.synth();
const t3 = performance.now();
process.stdout.write(JSON.stringify({ loadMs: t1 - t0, constructMs: t2 - t1, synthMs: t3 - t2, loadBreakdown }) + '\n');
