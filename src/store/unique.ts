// PostgreSQL's unique violation (SQLSTATE 23505), the one way the store recognises it.

const UNIQUE_VIOLATION = "23505";

/** A unique violation; with `constraint`, only one of that index or constraint. */
export function isUniqueViolation(err: unknown, constraint?: string): boolean {
  const e = err as { code?: string; constraint?: string } | undefined;
  return e?.code === UNIQUE_VIOLATION && (constraint === undefined || e.constraint === constraint);
}
