/**
 * The one error the library throws for bad input. The message names the construct path,
 * the field, the bad value and what is allowed, e.g.
 * `web/lb: healthCheck.intervalSeconds must be an integer between 1 and 60 (got 0)`.
 */
export class ValidationError extends Error {
  constructor(
    readonly constructPath: string,
    readonly field: string,
    readonly problem: string,
  ) {
    super(`${constructPath}: ${field} ${problem}`);
    this.name = 'ValidationError';
  }
}
