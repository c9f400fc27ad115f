// The session counters of migration 073 without waits (issue 13): each counter row was one of
// 8 slots chosen by pg_backend_pid() % 8, so two connections with the same remainder waited for
// each other's commit on the same row (4 ms at a time inside the broker's claim transaction in
// the login storm). A connection now counts in a slot of its own, its pid: no two transactions
// at once ever update the same row. Housekeeping folds the slots of days gone by into slot 0
// (SessionRepository.foldCountSlots), so the table keeps about one row per pool, connection
// type and day.
import { type Kysely, sql } from "kysely";

async function counters(db: Kysely<any>, slot: string): Promise<void> {
  const s = sql.raw(slot);
  await sql`
    CREATE OR REPLACE FUNCTION session_counts_apply() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF TG_OP = 'INSERT' THEN
        INSERT INTO session_counts AS c (project_id, connection_type, day, slot, n)
        SELECT project_id, connection_type, (created_at AT TIME ZONE 'UTC')::date, ${s}, count(*)
        FROM new_rows GROUP BY 1, 2, 3
        ON CONFLICT (project_id, connection_type, day, slot) DO UPDATE SET n = c.n + excluded.n;
      ELSE
        INSERT INTO session_counts AS c (project_id, connection_type, day, slot, n)
        SELECT project_id, connection_type, (created_at AT TIME ZONE 'UTC')::date, ${s}, -count(*)
        FROM old_rows GROUP BY 1, 2, 3
        ON CONFLICT (project_id, connection_type, day, slot) DO UPDATE SET n = c.n + excluded.n;
      END IF;
      RETURN NULL;
    END $$`.execute(db);
  await sql`
    CREATE OR REPLACE FUNCTION session_counts_move() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      INSERT INTO session_counts AS c (project_id, connection_type, day, slot, n)
      VALUES (OLD.project_id, OLD.connection_type, (OLD.created_at AT TIME ZONE 'UTC')::date, ${s}, -1)
      ON CONFLICT (project_id, connection_type, day, slot) DO UPDATE SET n = c.n + excluded.n;
      INSERT INTO session_counts AS c (project_id, connection_type, day, slot, n)
      VALUES (NEW.project_id, NEW.connection_type, (NEW.created_at AT TIME ZONE 'UTC')::date, ${s}, 1)
      ON CONFLICT (project_id, connection_type, day, slot) DO UPDATE SET n = c.n + excluded.n;
      RETURN NULL;
    END $$`.execute(db);
}

export async function up(db: Kysely<any>): Promise<void> {
  await counters(db, "pg_backend_pid()");
}

export async function down(db: Kysely<any>): Promise<void> {
  await counters(db, "pg_backend_pid() % 8");
}
