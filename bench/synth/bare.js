// A bare cdktf stack with one Docker container, synthesized. Usage: node bare.js OUTDIR
const t0 = performance.now();
const { App, TerraformStack } = require('cdktf');
const { container, image, provider } = require('@cdktf/provider-docker');
const t1 = performance.now();
const app = new App({ outdir: process.argv[2] });
const stack = new TerraformStack(app, 'bare');
new provider.DockerProvider(stack, 'docker');
const img = new image.Image(stack, 'image', { name: 'nginx:1.27', keepLocally: true });
new container.Container(stack, 'web', { name: 'bare-web', image: img.imageId, ports: [{ internal: 80, external: 8080, ip: '127.0.0.1' }] });
const t2 = performance.now();
app.synth();
const t3 = performance.now();
process.stdout.write(JSON.stringify({ loadMs: t1 - t0, constructMs: t2 - t1, synthMs: t3 - t2 }) + '\n');
