// Failed builds, counted once each: the instances of the given ids that are in ERROR and not
// yet counted are marked, and each one's pool adds them to build_failures and keeps the last
// one's fault, in one statement, so that two processes seeing the same failure (the build
// watcher here, an allocation there) count and report it once.
import { type Kysely, sql } from "kysely";
import type { Database } from "./schema.ts";

export interface FailedBuild {
  id: string;
  pool_id: string;
  name: string;
  fault: string | null;
}

export class BuildFailureRepository {
  constructor(private readonly db: Kysely<Database>) {}

  /** Marks the not yet counted ERROR instances among `ids`; answers them (each only once ever). */
  async record(ids: string[]): Promise<FailedBuild[]> {
    if (ids.length === 0) return [];
    const r = await sql<FailedBuild>`
      WITH failed AS (
        UPDATE instances SET build_failed_at = now()
         WHERE id = ANY(${ids}::text[]) AND status = 'ERROR'
           AND build_failed_at IS NULL AND deleted_at IS NULL
        RETURNING id, pool_id, name, fault, created_at
      ), per_pool AS (
        SELECT DISTINCT ON (pool_id) pool_id, fault,
               count(*) OVER (PARTITION BY pool_id) AS n
          FROM failed ORDER BY pool_id, created_at DESC, id
      ), counted AS (
        UPDATE pools p
           SET build_failures = p.build_failures + per_pool.n,
               last_build_failure = per_pool.fault,
               last_build_failure_at = now()
          FROM per_pool WHERE p.id = per_pool.pool_id
        RETURNING p.id
      )
      SELECT id, pool_id, name, fault FROM failed ORDER BY created_at, id`.execute(this.db);
    return r.rows;
  }
}
