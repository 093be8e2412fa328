import { describe, expect, it } from 'vitest';
import { renderDockerUserRules } from '../../src/load-balancer/render/firewall';
import { run, tempFile } from './real-programs';

const model = {
  chain: 'DWS-web',
  ports: [
    { address: '203.0.113.10', port: 443 },
    { address: '0.0.0.0', port: 80 },
  ],
  allowFrom: ['10.0.0.0/8', '198.51.100.7/32'],
};

/** Runs the script twice with real iptables in a fresh network namespace, then lists the rules. */
function applyInNewNetns(script: string) {
  const file = tempFile('rules.sh', script);
  return run('unshare', ['--net', 'sh', '-c', `set -e; iptables -N DOCKER-USER; iptables -A DOCKER-USER -j RETURN; sh ${file}; sh ${file}; iptables -S DOCKER-USER; iptables -S ${model.chain}`]);
}

describe('renderDockerUserRules, applied by real iptables', { tags: ['iptables'] }, () => {
  it('allows the listed sources to each published port, drops the rest, and is idempotent', () => {
    const r = applyInNewNetns(renderDockerUserRules(model));
    expect(r.status, r.stderr).toBe(0);
    const lines = r.stdout.trim().split('\n');
    // One jump, first, however often the script runs; the user's own rules stay after it.
    expect(lines.filter((l) => l.startsWith('-A DOCKER-USER'))).toEqual(['-A DOCKER-USER -j DWS-web', '-A DOCKER-USER -j RETURN']);
    const chain = lines.filter((l) => l.startsWith('-A DWS-web'));
    expect(chain).toHaveLength(7); // 2 ports × (2 allowed + 1 drop) + final RETURN
    expect(chain[0]).toMatch(/-s 10\.0\.0\.0\/8 .*--ctorigdst 203\.0\.113\.10 --ctorigdstport 443 .*-j RETURN/);
    expect(chain[2]).toMatch(/--ctorigdst 203\.0\.113\.10 --ctorigdstport 443 .*-j DROP/);
    expect(chain[5]).toMatch(/--ctorigdstport 80 .*-j DROP/);
    expect(chain[5]).not.toContain('ctorigdst ');
    expect(chain[6]).toBe('-A DWS-web -j RETURN');
  });

  it('is a check that can fail: iptables rejects a malformed rule', () => {
    const r = applyInNewNetns(renderDockerUserRules(model).replace(/--ctstate NEW/g, '--ctstate NOPE'));
    expect(r.status).not.toBe(0);
    // Refused by iptables for the bad state, not for want of iptables.
    expect(r.stderr).toMatch(/Bad ctstate "NOPE"/);
  });

  it('refuses a chain name iptables would reject', () => {
    expect(() => renderDockerUserRules({ ...model, chain: 'DWS-a-name-that-is-far-too-long-for-iptables' })).toThrow(/1-28 letters/);
  });
});
