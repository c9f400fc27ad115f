// Admin lists at scale (issue 13): indexes shaped for the pages, sorts and time ranges of
// GET /sessions/ and the latest session per instance, a trigram index for
// user_name__contains where pg_trgm is available, and session counters per pool, connection
// type and UTC day kept by statement-level triggers so that /sessions/count (also over a
// range of days) does not scan the table.
import { type Kysely, sql } from "kysely";

export async function up(db: Kysely<any>): Promise<void> {
  // Newest-first pages and created_at ranges; closed_at ranges and sorts.
  await sql`CREATE INDEX sessions_created ON sessions (created_at, id)`.execute(db);
  await sql`CREATE INDEX sessions_closed ON sessions (closed_at, id)`.execute(db);
  // The latest session of each instance, read backwards; replaces (instance_id, created_at).
  await sql`CREATE INDEX sessions_instance_latest ON sessions (instance_id, created_at, id)`.execute(db);
  await sql`DROP INDEX IF EXISTS sessions_instance`.execute(db);
  // Sorted by user name (a page is one range of it).
  await sql`CREATE INDEX sessions_user_name ON sessions (user_name, created_at, id)`.execute(db);
  // A user's sessions newest first.
  await sql`CREATE INDEX sessions_user_created ON sessions (user_id, created_at, id)`.execute(db);
  await sql`DROP INDEX IF EXISTS sessions_user`.execute(db);

  const trgm = await sql<{ ok: boolean }>`
    SELECT EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'pg_trgm') AS ok`.execute(db);
  if (trgm.rows[0]?.ok) {
    // pg_trgm is a trusted extension: the database's owner may create it.
    await sql`CREATE EXTENSION IF NOT EXISTS pg_trgm`.execute(db);
    await sql`CREATE INDEX sessions_user_name_trgm ON sessions USING gin (lower(user_name) gin_trgm_ops)`.execute(
      db,
    );
  }

  await sql`
    CREATE TABLE session_counts (
      project_id text,
      connection_type text,
      day date NOT NULL,
      slot integer NOT NULL,
      n bigint NOT NULL,
      UNIQUE NULLS NOT DISTINCT (project_id, connection_type, day, slot)
    )`.execute(db);
  await sql`
    INSERT INTO session_counts (project_id, connection_type, day, slot, n)
    SELECT project_id, connection_type, (created_at AT TIME ZONE 'UTC')::date, 0, count(*) FROM sessions
    GROUP BY 1, 2, 3`.execute(db);
  // Inserts and deletes counted per statement (the transition table holds the rows it changed).
  await sql`
    CREATE FUNCTION session_counts_apply() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF TG_OP = 'INSERT' THEN
        INSERT INTO session_counts AS c (project_id, connection_type, day, slot, n)
        SELECT project_id, connection_type, (created_at AT TIME ZONE 'UTC')::date, pg_backend_pid() % 8, count(*)
        FROM new_rows GROUP BY 1, 2, 3
        ON CONFLICT (project_id, connection_type, day, slot) DO UPDATE SET n = c.n + excluded.n;
      ELSE
        INSERT INTO session_counts AS c (project_id, connection_type, day, slot, n)
        SELECT project_id, connection_type, (created_at AT TIME ZONE 'UTC')::date, pg_backend_pid() % 8, -count(*)
        FROM old_rows GROUP BY 1, 2, 3
        ON CONFLICT (project_id, connection_type, day, slot) DO UPDATE SET n = c.n + excluded.n;
      END IF;
      RETURN NULL;
    END $$`.execute(db);
  await sql`
    CREATE TRIGGER session_counts_insert AFTER INSERT ON sessions
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION session_counts_apply()`.execute(db);
  await sql`
    CREATE TRIGGER session_counts_delete AFTER DELETE ON sessions
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION session_counts_apply()`.execute(db);
  // Only an update that moves a session to another pool, connection type or opening time
  // changes a count (closing one does not fire this).
  await sql`
    CREATE FUNCTION session_counts_move() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      INSERT INTO session_counts AS c (project_id, connection_type, day, slot, n)
      VALUES (OLD.project_id, OLD.connection_type, (OLD.created_at AT TIME ZONE 'UTC')::date, pg_backend_pid() % 8, -1)
      ON CONFLICT (project_id, connection_type, day, slot) DO UPDATE SET n = c.n + excluded.n;
      INSERT INTO session_counts AS c (project_id, connection_type, day, slot, n)
      VALUES (NEW.project_id, NEW.connection_type, (NEW.created_at AT TIME ZONE 'UTC')::date, pg_backend_pid() % 8, 1)
      ON CONFLICT (project_id, connection_type, day, slot) DO UPDATE SET n = c.n + excluded.n;
      RETURN NULL;
    END $$`.execute(db);
  await sql`
    CREATE TRIGGER session_counts_update AFTER UPDATE OF project_id, connection_type, created_at ON sessions
    FOR EACH ROW WHEN (OLD.project_id IS DISTINCT FROM NEW.project_id
                       OR OLD.connection_type IS DISTINCT FROM NEW.connection_type
                       OR OLD.created_at IS DISTINCT FROM NEW.created_at)
    EXECUTE FUNCTION session_counts_move()`.execute(db);
  await sql`
    CREATE FUNCTION session_counts_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN DELETE FROM session_counts; RETURN NULL; END $$`.execute(db);
  await sql`
    CREATE TRIGGER session_counts_truncate AFTER TRUNCATE ON sessions
    FOR EACH STATEMENT EXECUTE FUNCTION session_counts_truncate()`.execute(db);

  // Assignment history read by time (the dashboard's activity, reports).
  await sql`CREATE INDEX assignment_history_at ON assignment_history (at, id)`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`DROP INDEX IF EXISTS assignment_history_at`.execute(db);
  await sql`DROP TRIGGER IF EXISTS session_counts_truncate ON sessions`.execute(db);
  await sql`DROP TRIGGER IF EXISTS session_counts_update ON sessions`.execute(db);
  await sql`DROP TRIGGER IF EXISTS session_counts_delete ON sessions`.execute(db);
  await sql`DROP TRIGGER IF EXISTS session_counts_insert ON sessions`.execute(db);
  await sql`DROP FUNCTION IF EXISTS session_counts_truncate()`.execute(db);
  await sql`DROP FUNCTION IF EXISTS session_counts_move()`.execute(db);
  await sql`DROP FUNCTION IF EXISTS session_counts_apply()`.execute(db);
  await sql`DROP TABLE IF EXISTS session_counts`.execute(db);
  await sql`DROP INDEX IF EXISTS sessions_user_name_trgm`.execute(db);
  await sql`CREATE INDEX IF NOT EXISTS sessions_user ON sessions (user_id)`.execute(db);
  await sql`DROP INDEX IF EXISTS sessions_user_created`.execute(db);
  await sql`DROP INDEX IF EXISTS sessions_user_name`.execute(db);
  await sql`CREATE INDEX IF NOT EXISTS sessions_instance ON sessions (instance_id, created_at)`.execute(db);
  await sql`DROP INDEX IF EXISTS sessions_instance_latest`.execute(db);
  await sql`DROP INDEX IF EXISTS sessions_closed`.execute(db);
  await sql`DROP INDEX IF EXISTS sessions_created`.execute(db);
}
