import { Token } from 'cdktf';
import { z } from 'zod';
import { ValidationError } from '../errors';

/** Parses props with a zod schema; the first problem becomes one ValidationError. */
export function parseProps<S extends z.ZodType>(schema: S, input: unknown, constructPath: string, fieldPrefix?: string): z.output<S> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const issue = deepest(result.error.issues[0]);
  const parts = [...(fieldPrefix ? [fieldPrefix] : []), ...issue.path.map(String)];
  const field = parts.join('.') || 'props';
  if (issue.code === 'invalid_key') {
    // A record key is wrong: name the record, show the key.
    const record = [...(fieldPrefix ? [fieldPrefix] : []), ...issue.path.slice(0, -1).map(String)].join('.');
    const inner = issue.issues[0]?.message ?? issue.message;
    throw new ValidationError(constructPath, `${record} key`, `${inner} (got ${describe(issue.path[issue.path.length - 1])})`);
  }
  if (issue.code === 'unrecognized_keys') {
    const prefix = parts.length ? `${field}.` : '';
    const keys = issue.keys.map((k) => `${prefix}${k}`).join(', ');
    throw new ValidationError(constructPath, keys, 'is not a known property (check the spelling)');
  }
  const value = valueAt(input, issue.path);
  if (isToken(value)) {
    // Known only at deploy, while this value is rendered into configuration (or checked) at synth.
    throw new ValidationError(constructPath, field, `must be a literal, not a Terraform token: it is rendered into configuration at synth, and a token is known only at deploy; ${plain(issue, value, false)} (got the token ${describe(value)})`);
  }
  throw new ValidationError(constructPath, field, `${plain(issue, value, parts.length === 0)} (got ${describe(value)})`);
}

/**
 * In a union (e.g. tls: false | { certificatePem, ... } | { selfSigned }), the branch that got
 * furthest says what is wrong: its issue, at its full path, rather than "must be one of".
 */
function deepest(issue: z.core.$ZodIssue): z.core.$ZodIssue {
  if (issue.code !== 'invalid_union' || !issue.errors?.length) return issue;
  const inner = issue.errors.flat().filter((i) => i.path.length > 0);
  if (!inner.length) return issue;
  const best = inner.reduce((a, b) => (b.path.length > a.path.length ? b : a));
  return deepest({ ...best, path: [...issue.path, ...best.path] } as z.core.$ZodIssue);
}

/** zod's own wording ("Invalid input: expected record, received null") in ours. */
function plain(issue: z.core.$ZodIssue, value: unknown, isProps: boolean): string {
  if (!issue.message.startsWith('Invalid input')) return issue.message;
  if (isProps) return "must be an object (the construct's props)";
  if (value === undefined) return 'is required';
  const expected = (issue as { expected?: string }).expected ?? '';
  const wanted: Record<string, string> = { object: 'must be an object', record: 'must be an object', array: 'must be a list', string: 'must be a string', number: 'must be a number', boolean: 'must be true or false' };
  return wanted[expected] ?? 'is not valid here';
}

function valueAt(input: unknown, path: readonly PropertyKey[]): unknown {
  let value: unknown = input;
  for (const key of path) {
    if (value === null || typeof value !== 'object') return undefined;
    value = (value as Record<PropertyKey, unknown>)[key];
  }
  return value;
}

function describe(value: unknown): string {
  if (value === undefined) return 'undefined';
  if (typeof value === 'string') return JSON.stringify(value);
  // JSON would show NaN and Infinity as null.
  if (typeof value === 'number' && !Number.isFinite(value)) return String(value);
  if (typeof value === 'object' && value !== null && 'node' in value) return 'a construct';
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

/** An integer in [min, max]; the message says so. */
export const intBetween = (min: number, max: number) =>
  z
    .number({ error: `must be an integer between ${min} and ${max}` })
    .int({ error: `must be an integer between ${min} and ${max}` })
    .min(min, { error: `must be an integer between ${min} and ${max}` })
    .max(max, { error: `must be an integer between ${min} and ${max}` });

/** Docker object names (containers, networks, volumes). */
export const dockerName = z
  .string({ error: 'must be a string' })
  .regex(/^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}$/, {
    error: 'must start with a letter or digit and contain only letters, digits, "_", "." or "-" (at most 63 characters)',
  });

/** A Terraform token (a variable, another resource's attribute): taken as it is, Terraform resolves it. */
export const isToken = (value: unknown) => value !== undefined && value !== null && Token.isUnresolved(value);

const IMAGE_REF = 'must be an image reference such as "haproxy:3.0" or "registry.example.com/team/haproxy:3.0"';
export const imageRef = z
  .string({ error: IMAGE_REF })
  .refine((s) => isToken(s) || (/^[a-z0-9][a-z0-9._\/:@-]*$/i.test(s) && !s.includes('..') && !s.endsWith(':')), { error: IMAGE_REF });

/** A TCP port, or a token. */
export const portOrToken = z
  .number({ error: 'must be an integer between 1 and 65535' })
  .refine((v) => isToken(v) || (Number.isInteger(v) && v >= 1 && v <= 65535), { error: 'must be an integer between 1 and 65535' });

/** SQL identifiers we interpolate into bootstrap SQL: keep them boring. */
export const sqlIdentifier = z
  .string({ error: 'must be a string' })
  .regex(/^[A-Za-z_][A-Za-z0-9_]{0,31}$/, { error: 'must start with a letter or "_" and contain only letters, digits and "_" (at most 32 characters)' });

/** The path a construct will have, for messages raised before it is added to the tree. */
export function childPath(scope: { node: { path: string } }, id: string): string {
  return scope.node.path ? `${scope.node.path}/${id}` : id;
}

/**
 * The longest name the library makes from a prefix: the management alias of an Nginx container's
 * generation, `<prefix>-server-1-nginx-<12 hex>-mgmt`. Docker DNS names must fit one DNS label
 * (63 characters).
 */
const LONGEST_NAME_SUFFIX = '-server-1-nginx-<12 hex>-mgmt';
export const NAME_PREFIX_MAX_LENGTH = 63 - '-server-1-nginx-0123456789ab-mgmt'.length;
const NAME_PREFIX_RULE = `must be lowercase letters, digits and "-" (not first or last), at most ${NAME_PREFIX_MAX_LENGTH} characters (image names must be lowercase; the longest name made from it, "<prefix>${LONGEST_NAME_SUFFIX}", must fit a 63-character DNS label)`;

/** A prefix of every Docker name of a stack: containers, networks, volumes, images, DNS aliases. */
export const namePrefix = z
  .string({ error: NAME_PREFIX_RULE })
  .max(NAME_PREFIX_MAX_LENGTH, { error: NAME_PREFIX_RULE })
  .regex(/^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$/, { error: NAME_PREFIX_RULE });

/**
 * The prefix a construct uses: the one given (already checked by its schema), else one derived
 * from the stack's id (lowercased, other characters as "-"), which must pass the same rule.
 */
export function resolveNamePrefix(stackId: string, constructPath: string, given: string | undefined): string {
  if (given !== undefined) return given;
  const derived = stackId.toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/^-+|-+$/g, '');
  const r = namePrefix.safeParse(derived);
  if (!r.success) {
    throw new ValidationError(constructPath, 'namePrefix', `${NAME_PREFIX_RULE}; derived from the stack id ${JSON.stringify(stackId)} it would be ${JSON.stringify(derived)}: set namePrefix (got undefined)`);
  }
  return derived;
}

// Constructs and contracts passed as props, checked by shape: a user's copy of a provider package
// may be another instance of the same class, so `instanceof` would refuse it.
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null;

/** A docker network (network.Network of @cdktf/provider-docker). */
export const dockerNetwork = (what: string) =>
  z.custom<any>((n) => isObject(n) && typeof n.name === 'string' && typeof n.interpolationForAttribute === 'function', {
    error: (issue) => `${issue.input === undefined ? 'is required:' : 'must be'} a docker network construct (network.Network of @cdktf/provider-docker), ${what}`,
  });

/** An ILoadBalancerTarget: something with loadBalancerServers(). */
export const loadBalancerTarget = z.custom<any>((t) => isObject(t) && typeof t.loadBalancerServers === 'function', {
  error: 'must be a load balancer target (an AppServerPair, or an object with loadBalancerServers())',
});

/** An IDatabaseConnection (a MySqlPrimaryReplica). */
export const databaseConnection = z.custom<any>(
  (d) => isObject(d) && typeof d.writerHost === 'string' && typeof d.readerHost === 'string' && typeof d.port === 'number' && typeof d.databaseName === 'string' && typeof d.user === 'string' && typeof d.password === 'string' && dockerNetwork('').safeParse(d.network).success,
  { error: 'must be a MySqlPrimaryReplica (or an IDatabaseConnection: writerHost, readerHost, port, databaseName, user, password, network)' },
);

/** Props of a child construct, given as an object. */
export const childProps = (construct: string) => z.record(z.string(), z.unknown(), { error: `must be ${construct} props (an object)` });
