// The latest session of each instance (by created_at, then id), kept by triggers, so that
// GET /sessions/?last=true for a pool reads one row per instance instead of probing the
// sessions index twice per instance (1.2 s at 10,000 instances and 1,000,000 sessions).
import { type Kysely, sql } from "kysely";

export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    CREATE TABLE session_latest (
      instance_id text PRIMARY KEY,
      project_id text,
      session_id uuid NOT NULL,
      created_at timestamptz NOT NULL
    )`.execute(db);
  await sql`
    INSERT INTO session_latest (instance_id, project_id, session_id, created_at)
    SELECT DISTINCT ON (instance_id) instance_id, project_id, id, created_at FROM sessions
    ORDER BY instance_id, created_at DESC, id DESC`.execute(db);
  // A pool's latest sessions newest first (a page of them is one range).
  await sql`CREATE INDEX session_latest_pool ON session_latest (project_id, created_at, session_id)`.execute(
    db,
  );
  await sql`CREATE INDEX session_latest_created ON session_latest (created_at, session_id)`.execute(db);
  // New sessions: each instance's newest of the statement, if newer than the one kept.
  await sql`
    CREATE FUNCTION session_latest_insert() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      INSERT INTO session_latest AS x (instance_id, project_id, session_id, created_at)
      SELECT DISTINCT ON (instance_id) instance_id, project_id, id, created_at FROM new_rows
      ORDER BY instance_id, created_at DESC, id DESC
      ON CONFLICT (instance_id) DO UPDATE
      SET project_id = excluded.project_id, session_id = excluded.session_id, created_at = excluded.created_at
      WHERE (excluded.created_at, excluded.session_id) > (x.created_at, x.session_id);
      RETURN NULL;
    END $$`.execute(db);
  await sql`
    CREATE TRIGGER session_latest_insert AFTER INSERT ON sessions
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION session_latest_insert()`.execute(
    db,
  );
  // Read again for the given instances (a kept session deleted, or moved in time or instance).
  await sql`
    CREATE FUNCTION session_latest_refresh(ids text[]) RETURNS void LANGUAGE plpgsql AS $$
    BEGIN
      DELETE FROM session_latest WHERE instance_id = ANY(ids);
      INSERT INTO session_latest (instance_id, project_id, session_id, created_at)
      SELECT l.instance_id, l.project_id, l.id, l.created_at
      FROM (SELECT DISTINCT unnest(ids)) AS i(instance_id)
      CROSS JOIN LATERAL (
        SELECT s.instance_id, s.project_id, s.id, s.created_at FROM sessions s WHERE s.instance_id = i.instance_id
        ORDER BY s.created_at DESC, s.id DESC LIMIT 1
      ) l;
    END $$`.execute(db);
  await sql`
    CREATE FUNCTION session_latest_delete() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE ids text[];
    BEGIN
      SELECT array_agg(DISTINCT o.instance_id) INTO ids
      FROM old_rows o JOIN session_latest x ON x.session_id = o.id;
      IF ids IS NOT NULL THEN PERFORM session_latest_refresh(ids); END IF;
      RETURN NULL;
    END $$`.execute(db);
  await sql`
    CREATE TRIGGER session_latest_delete AFTER DELETE ON sessions
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION session_latest_delete()`.execute(
    db,
  );
  await sql`
    CREATE FUNCTION session_latest_move() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      PERFORM session_latest_refresh(ARRAY[OLD.instance_id, NEW.instance_id]);
      RETURN NULL;
    END $$`.execute(db);
  // Closing a session (closed_at) does not fire this.
  await sql`
    CREATE TRIGGER session_latest_move AFTER UPDATE OF instance_id, created_at, project_id ON sessions
    FOR EACH ROW WHEN (OLD.instance_id IS DISTINCT FROM NEW.instance_id
                       OR OLD.created_at IS DISTINCT FROM NEW.created_at
                       OR OLD.project_id IS DISTINCT FROM NEW.project_id)
    EXECUTE FUNCTION session_latest_move()`.execute(db);
  await sql`
    CREATE FUNCTION session_latest_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN DELETE FROM session_latest; RETURN NULL; END $$`.execute(db);
  await sql`
    CREATE TRIGGER session_latest_truncate AFTER TRUNCATE ON sessions
    FOR EACH STATEMENT EXECUTE FUNCTION session_latest_truncate()`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const t of ["truncate", "move", "delete", "insert"])
    await sql.raw(`DROP TRIGGER IF EXISTS session_latest_${t} ON sessions`).execute(db);
  for (const f of ["truncate()", "move()", "delete()", "refresh(text[])", "insert()"])
    await sql.raw(`DROP FUNCTION IF EXISTS session_latest_${f}`).execute(db);
  await sql`DROP TABLE IF EXISTS session_latest`.execute(db);
}
