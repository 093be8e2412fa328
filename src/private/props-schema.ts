import { z } from 'zod';

/**
 * A strict zod object for a props interface P, which stays the one declaration (its doc comments
 * are what users read): the compiler refuses a schema that misses one of P's fields, adds one P
 * does not have, or refuses a type P allows. The schema adds only the checks and the defaults.
 */
export function propsSchema<P>() {
  return <S extends z.ZodRawShape>(shape: S & PropsShape<P, S>) => z.strictObject(shape);
}

type PropsShape<P, S> = {
  [K in keyof P]-?: K extends keyof S ? ([P[K]] extends [z.input<S[K]>] ? S[K] : { error: 'the schema refuses a type the props interface allows'; field: K }) : never;
} & { [K in Exclude<keyof S, keyof P>]: { error: 'not a field of the props interface'; field: K } };
