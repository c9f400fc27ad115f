// The claim of a free instance at scale (issue 13): each instance counts its holders (users
// and groups) in `holder_count`, kept by row triggers on instance_users and instance_groups,
// and a partial index holds only the live instances nobody holds. The claim reads the oldest
// free one of a pool from that index instead of walking past every held instance of the pool
// (a claim's cost grew with the pool: 4 ms of the database's CPU at a thousand instances).
//
// The count is a hint for the index, not the guarantee: the claim still re-checks the holders
// with a fresh snapshot under the instance's row lock (store/holders.ts takeIfClaimable).
// Counting (+1/-1) rather than recomputing keeps it exact under concurrent changes: an UPDATE
// applies its increment to the row's latest version.
import { type Kysely, sql } from "kysely";

export async function up(db: Kysely<any>): Promise<void> {
  await sql`ALTER TABLE instances ADD COLUMN holder_count integer NOT NULL DEFAULT 0`.execute(db);
  await sql`
    UPDATE instances i SET holder_count =
      (SELECT count(*) FROM instance_users u WHERE u.instance_id = i.id) +
      (SELECT count(*) FROM instance_groups g WHERE g.instance_id = i.id)`.execute(db);
  await sql`
    CREATE FUNCTION instance_holder_count() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF TG_OP IN ('DELETE', 'UPDATE') THEN
        UPDATE instances SET holder_count = holder_count - 1 WHERE id = OLD.instance_id;
      END IF;
      IF TG_OP IN ('INSERT', 'UPDATE') THEN
        UPDATE instances SET holder_count = holder_count + 1 WHERE id = NEW.instance_id;
      END IF;
      RETURN NULL;
    END $$`.execute(db);
  for (const table of ["instance_users", "instance_groups"]) {
    await sql`
      CREATE TRIGGER ${sql.raw(`${table}_holder_count`)}
      AFTER INSERT OR DELETE OR UPDATE OF instance_id ON ${sql.table(table)}
      FOR EACH ROW EXECUTE FUNCTION instance_holder_count()`.execute(db);
  }
  // A TRUNCATE of either table starts the counts again from what is left.
  await sql`
    CREATE FUNCTION instance_holder_recount() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      UPDATE instances i SET holder_count =
        (SELECT count(*) FROM instance_users u WHERE u.instance_id = i.id) +
        (SELECT count(*) FROM instance_groups g WHERE g.instance_id = i.id)
      WHERE holder_count <> 0;
      RETURN NULL;
    END $$`.execute(db);
  for (const table of ["instance_users", "instance_groups"]) {
    await sql`
      CREATE TRIGGER ${sql.raw(`${table}_holder_recount`)}
      AFTER TRUNCATE ON ${sql.table(table)}
      FOR EACH STATEMENT EXECUTE FUNCTION instance_holder_recount()`.execute(db);
  }
  await sql`
    CREATE INDEX instances_free ON instances (pool_id, status, created_at, id)
    WHERE holder_count = 0 AND deleted_at IS NULL AND NOT draining`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`DROP INDEX instances_free`.execute(db);
  for (const table of ["instance_users", "instance_groups"]) {
    await sql`DROP TRIGGER ${sql.raw(`${table}_holder_count`)} ON ${sql.table(table)}`.execute(db);
    await sql`DROP TRIGGER ${sql.raw(`${table}_holder_recount`)} ON ${sql.table(table)}`.execute(db);
  }
  await sql`DROP FUNCTION instance_holder_count()`.execute(db);
  await sql`DROP FUNCTION instance_holder_recount()`.execute(db);
  await sql`ALTER TABLE instances DROP COLUMN holder_count`.execute(db);
}
