// The pool's mode lock: claims (store/holders.ts) take it shared, a switch of the pool's
// operation mode (store/pools.ts switchMode) exclusive, so that no claim slips in between the
// switch's check and its update. A row lock FOR SHARE on the pool did this before, but many
// claims sharing one row lock make PostgreSQL write a new multixact for each of them (1.9 ms of
// the database per claim in the storm, issue 13); advisory locks live in memory.
import { type Kysely, sql } from "kysely";
import type { Database } from "./schema.ts";

/** The class of the lock (pg's two-key advisory locks; the second key is the pool id hashed). */
export const POOL_MODE_LOCK = 0x7273_0004;

/** Takes the pool's mode lock until the transaction ends: shared (a claim) or exclusive (a switch). */
export async function lockPoolMode(trx: Kysely<Database>, poolId: string, exclusive = false): Promise<void> {
  await (exclusive
    ? sql`SELECT pg_advisory_xact_lock(${POOL_MODE_LOCK}, hashtext(${poolId}))`
    : sql`SELECT pg_advisory_xact_lock_shared(${POOL_MODE_LOCK}, hashtext(${poolId}))`
  ).execute(trx);
}
