import { join } from 'node:path';
import * as ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { appServerPairPropsSchema, codebasePropsSchemas } from '../src/app-servers/app-server-pair';
import { databaseBackupPropsSchema } from '../src/database/database-backup';
import { mySqlPrimaryReplicaPropsSchema } from '../src/database/mysql-primary-replica';
import { distributedWebStackPropsSchema } from '../src/distributed-web-stack';
import { loadBalancerPropsSchema } from '../src/load-balancer/load-balancer';
import { monitoringPropsSchema } from '../src/monitoring/monitoring';

// The props interfaces are the declaration users read; each schema is bound to its interface by
// the compiler (src/private/props-schema.ts) and applies the defaults. This checks the third
// place a default appears, the interface's `@default` doc, against what the schema applies.

const REPO = join(__dirname, '..');
const SOURCES = ['src/load-balancer/load-balancer.ts', 'src/database/mysql-primary-replica.ts', 'src/database/database-backup.ts', 'src/app-servers/app-server-pair.ts', 'src/monitoring/monitoring.ts', 'src/distributed-web-stack.ts', 'src/private/docker.ts'].map((f) => join(REPO, f));
const program = ts.createProgram(SOURCES, { strict: true, skipLibCheck: true, noEmit: true });
const checker = program.getTypeChecker();

/** A docker network as the schemas check it (by shape). */
const net = { name: 'n', interpolationForAttribute: () => '${n}' };
const database = { writerHost: 'w', readerHost: 'r', port: 3306, databaseName: 'app', user: 'app', password: 'p', network: net };

/** Each props interface, the schema that parses it, the least input it takes, and where its object is in the output. */
const CASES: { iface: string; schema: z.ZodType; input: unknown; at?: string[] }[] = [
  { iface: 'LoadBalancerProps', schema: loadBalancerPropsSchema, input: { networks: [net] } },
  { iface: 'LoadBalancerHealthCheckProps', schema: loadBalancerPropsSchema, input: { networks: [net] }, at: ['healthCheck'] },
  { iface: 'LoadBalancerPairProps', schema: loadBalancerPropsSchema, input: { networks: [net], pair: { subnet: '10.213.0.0/24' } }, at: ['pair'] },
  { iface: 'MySqlPrimaryReplicaProps', schema: mySqlPrimaryReplicaPropsSchema, input: { network: net } },
  { iface: 'DatabaseFailoverProps', schema: mySqlPrimaryReplicaPropsSchema, input: { network: net }, at: ['failover'] },
  { iface: 'DatabaseBackupProps', schema: databaseBackupPropsSchema, input: { database: { allowBackup: () => undefined } } },
  { iface: 'AppServerPairProps', schema: appServerPairPropsSchema, input: { codebase: { image: 'shop:1' }, network: net, database } },
  { iface: 'MonitoringProps', schema: monitoringPropsSchema, input: { managementNetwork: net } },
  { iface: 'DistributedWebStackProps', schema: distributedWebStackPropsSchema, input: { codebase: { image: 'shop:1' } } },
];

const CODEBASE_CASES: { branch: 'image' | 'directory'; input: unknown }[] = [
  { branch: 'image', input: { image: 'shop:1' } },
  { branch: 'directory', input: { directory: join(REPO, 'examples', 'app') } },
];

function declaredInterface(name: string): ts.InterfaceDeclaration {
  for (const file of program.getSourceFiles().filter((f) => SOURCES.includes(f.fileName))) {
    const found = file.statements.find((s): s is ts.InterfaceDeclaration => ts.isInterfaceDeclaration(s) && s.name.text === name);
    if (found) return found;
  }
  throw new Error(`no interface ${name} in ${SOURCES.join(', ')}`);
}

/**
 * A `@default` that is a value (`3`, `"app"`, `{ retries: 3 }`, optionally followed by a remark in
 * parentheses) rather than prose ("the stack's id", "none", "DEFAULT_ALERT_THRESHOLDS").
 */
function documentedValue(text: string): { value: unknown } | undefined {
  for (const candidate of [text.trim(), text.replace(/\s+\(.*\)\s*$/s, '').trim()]) {
    try {
      return { value: new Function(`"use strict"; return (${candidate});`)() };
    } catch {
      // prose: not checked
    }
  }
  return undefined;
}

interface Documented {
  field: string;
  documented: unknown;
  applied: unknown;
}

/** The documented value defaults of a type's properties, and what the parsed output holds there; nested object types of ours are walked. */
function documentedDefaults(type: ts.Type, output: unknown, path: string[]): Documented[] {
  const found: Documented[] = [];
  for (const prop of type.getProperties()) {
    const decl = prop.valueDeclaration ?? prop.declarations?.[0];
    if (!decl) continue;
    const applied = output !== null && typeof output === 'object' ? (output as Record<string, unknown>)[prop.name] : undefined;
    const tag = prop.getJsDocTags(checker).find((t) => t.name === 'default');
    const value = tag && documentedValue(ts.displayPartsToString(tag.text));
    if (value) found.push({ field: [...path, prop.name].join('.'), documented: value.value, applied });
    const inner = checker.getNonNullableType(checker.getTypeOfSymbolAtLocation(prop, decl));
    const ours = inner.getSymbol()?.declarations?.some((d) => d.getSourceFile().fileName.startsWith(join(REPO, 'src')));
    if (ours && !inner.isUnion() && !checker.isArrayType(inner) && applied !== null && typeof applied === 'object') {
      found.push(...documentedDefaults(inner, applied, [...path, prop.name]));
    }
  }
  return found;
}

describe('the props interfaces document the defaults the schemas apply', () => {
  const all: Documented[] = [];

  for (const c of CASES) {
    it(`${c.iface}`, () => {
      let output: unknown = c.schema.parse(c.input);
      for (const key of c.at ?? []) output = (output as Record<string, unknown>)[key];
      const found = documentedDefaults(checker.getTypeAtLocation(declaredInterface(c.iface).name), output, c.at ?? []);
      all.push(...found);
      expect(found.length, `${c.iface} documents no value default`).toBeGreaterThan(0);
      for (const d of found) expect({ field: d.field, value: d.applied }).toEqual({ field: d.field, value: d.documented });
    });
  }

  for (const c of CODEBASE_CASES) {
    it(`Codebase ({ ${c.branch} })`, () => {
      const codebase = checker.getTypeAtLocation((declaredTypeAlias('Codebase').type as ts.UnionTypeNode).types[c.branch === 'image' ? 0 : 1]);
      const found = documentedDefaults(codebase, codebasePropsSchemas[c.branch].parse(c.input), ['codebase']);
      expect(found.length).toBeGreaterThan(0);
      for (const d of found) expect({ field: d.field, value: d.applied }).toEqual({ field: d.field, value: d.documented });
    });
  }

  it('checks enough of them to mean something', () => {
    // Counted when written: 58 value defaults across the interfaces above.
    expect(all.length).toBeGreaterThanOrEqual(55);
  });
});

function declaredTypeAlias(name: string): ts.TypeAliasDeclaration {
  for (const file of program.getSourceFiles().filter((f) => SOURCES.includes(f.fileName))) {
    const found = file.statements.find((s): s is ts.TypeAliasDeclaration => ts.isTypeAliasDeclaration(s) && s.name.text === name);
    if (found) return found;
  }
  throw new Error(`no type ${name}`);
}
