import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

// A user's cdktf app installs the packed package, type-checks against its .d.ts and synthesizes.
const REPO = resolve(__dirname, '..', '..');
const work = mkdtempSync(join(tmpdir(), 'dws-user-'));
const run = (cmd: string, args: string[], cwd: string) => execFileSync(cmd, args, { cwd, encoding: 'utf8', timeout: 240_000, stdio: ['ignore', 'pipe', 'pipe'] });

describe('the published package', () => {
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it('builds, packs, installs into a user project, type-checks and synthesizes', () => {
    run('npm', ['run', 'build'], REPO);
    const tarball = run('npm', ['pack', '--silent', '--pack-destination', work], REPO).trim().split('\n').pop()!;
    const versions = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')).devDependencies;
    writeFileSync(join(work, 'package.json'), JSON.stringify({ name: 'user-app', private: true, version: '1.0.0' }));
    run(
      'npm',
      [
        'install',
        '--prefer-offline',
        '--no-audit',
        '--no-fund',
        join(work, tarball),
        `cdktf@${versions.cdktf}`,
        `constructs@${versions.constructs}`,
        `@cdktf/provider-docker@${versions['@cdktf/provider-docker']}`,
        `@cdktf/provider-random@${versions['@cdktf/provider-random']}`,
        `@cdktf/provider-tls@${versions['@cdktf/provider-tls']}`,
        `typescript@${versions.typescript}`,
        `@types/node@${versions['@types/node']}`,
      ],
      work,
    );
    writeFileSync(
      join(work, 'main.ts'),
      [
        "import { App, TerraformStack } from 'cdktf';",
        "import { DistributedWebStack, ValidationError } from 'cdktf-distributed-web-stack';",
        "const app = new App({ outdir: 'out' });",
        "const stack = new TerraformStack(app, 'shop');",
        "const web = new DistributedWebStack(stack, 'web', { codebase: { image: 'shop:1' }, database: { engine: 'mariadb' } });",
        'const port: number = web.loadBalancer.publishedHttpPort;',
        "console.log(port, ValidationError.name);",
        'app.synth();',
      ].join('\n'),
    );
    writeFileSync(join(work, 'tsconfig.json'), JSON.stringify({ compilerOptions: { strict: true, module: 'commonjs', target: 'ES2022', esModuleInterop: true, skipLibCheck: true, types: ['node'] } }));
    run(join(work, 'node_modules', '.bin', 'tsc'), ['-p', '.'], work);
    expect(run('node', ['main.js'], work).trim()).toBe('8080 ValidationError');
    const synthesized = JSON.parse(readFileSync(join(work, 'out', 'stacks', 'shop', 'cdk.tf.json'), 'utf8'));
    // lb, 2 × (nginx + app), the two database nodes, their router, failover agent and backup; 8 for monitoring.
    expect(Object.keys(synthesized.resource.docker_container).length).toBe(18);
    // The backup program's source ships inside the package, built on the Docker host.
    const backupImage = Object.values<any>(synthesized.resource.docker_image).find((i) => i.build?.context?.endsWith('db-backup'));
    expect(backupImage.build.context).toBe(join(work, 'node_modules', 'cdktf-distributed-web-stack', 'assets', 'db-backup'));
    const staticImage = Object.values<any>(synthesized.resource.docker_image).find((i) => i.build);
    // The Nginx image's build context ships inside the package.
    expect(staticImage.build.context).toBe(join(work, 'node_modules', 'cdktf-distributed-web-stack', 'assets', 'static-site'));
  }, 300_000);
});
