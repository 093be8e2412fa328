import { network } from '@cdktf/provider-docker';
import { Testing, TerraformStack } from 'cdktf';

export interface Synthesized {
  resource: Record<string, Record<string, any>>;
  output?: Record<string, any>;
  provider?: Record<string, any>;
}

/** Synthesizes a fresh stack (with validations) and returns the parsed cdk.tf.json. */
export function synthStack(build: (stack: TerraformStack) => void, runValidations = true): { json: string; tf: Synthesized } {
  const stack = new TerraformStack(Testing.app(), 'test');
  build(stack);
  const json = Testing.synth(stack, runValidations);
  return { json, tf: JSON.parse(json) };
}

/** All resources of one type, as a list of their bodies. */
export function resources(tf: Synthesized, type: string): any[] {
  return Object.values(tf.resource[type] ?? {});
}

/** A synthesized container name without its generation suffix ("-<6 hex><Terraform expression>"). */
export const baseName = (name: string) => name.replace(/-[0-9a-f]{6}\$\{substr\(.*\)\}$/, '');

/** The resource with this name (for containers, without their generation suffix). */
export function byName(tf: Synthesized, type: string, name: string): any {
  const found = resources(tf, type).find((r) => baseName(r.name) === name);
  if (!found) throw new Error(`no ${type} named ${name}; have ${resources(tf, type).map((r) => r.name).join(', ')}`);
  return found;
}

export function testNetwork(stack: TerraformStack, id = 'net', internal = false): network.Network {
  return new network.Network(stack, id, { name: `test-${id}`, internal });
}

export function uploaded(container: any, file: string): string {
  const u = (container.upload as any[]).find((x) => x.file === file);
  if (!u) throw new Error(`no upload ${file}`);
  return u.content;
}

/**
 * Password-like assignments whose value is a literal rather than a reference: `x_password: "abc"`,
 * `PASSWORD=abc`, `IDENTIFIED BY 'abc'`. References (`${...}`, `$VAR`, `$(...)`) are fine.
 */
export function passwordLiterals(text: string): string[] {
  const patterns = [/password[A-Za-z_]*\\?["']?\s*[:=]\s*\\?["']?(?![$\\{/])([^\s"'\\,;]{4,})/gi, /IDENTIFIED BY\s+'(?!\$)([^']+)'/gi];
  return patterns.flatMap((re) => [...text.matchAll(re)].map((m) => m[0]));
}
