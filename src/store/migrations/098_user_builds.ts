// One build at a time per user and pool (found by the one-user race test): when nothing could
// be claimed, each of one user's parallel allocations used to create an instance of its own,
// and a user clicking twenty times held six desktops of a Standard pool. The allocation now
// takes the user's build turn under the claim lock before asking Nova; the others of the same
// user wait for that build and then find it as the user's, and no claim (warm or not) gives
// the user a free instance meanwhile. The turn ends when the instance is recorded with its
// holder (store/holders.ts insertHeld), when its build fails, or when it expires.
import { type Kysely, sql } from "kysely";

export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    CREATE TABLE user_builds (
      pool_id text NOT NULL REFERENCES pools(id) ON DELETE CASCADE,
      user_id text NOT NULL,
      request_id text NOT NULL,
      started_at timestamptz NOT NULL DEFAULT now(),
      -- Past it, the turn is taken over (its allocation died without ending it).
      expires_at timestamptz NOT NULL,
      PRIMARY KEY (pool_id, user_id)
    )`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`DROP TABLE user_builds`.execute(db);
}
