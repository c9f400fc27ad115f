// Drain and golden-image roll-out (issue 16): a pool or an instance may be draining (no new
// allocation goes to it), each instance remembers the image it was built from (backfilled
// from its pool's image: what the pool built until now), and a pool's roll-outs are kept with
// their progress and events. A session may carry a notice for its user (the roll-out's warning
// before a deadline replaces the desktop).
import { type Kysely, sql } from "kysely";

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .alterTable("pools")
    .addColumn("draining", "boolean", (c) => c.notNull().defaultTo(false))
    .addColumn("drain_reason", "text")
    .execute();
  await db.schema
    .alterTable("instances")
    .addColumn("draining", "boolean", (c) => c.notNull().defaultTo(false))
    .addColumn("image_id", "text")
    .execute();
  await sql`UPDATE instances i SET image_id = p.image_id FROM pools p WHERE p.id = i.pool_id`.execute(db);
  await db.schema.alterTable("sessions").addColumn("notice", "text").execute();
  await db.schema
    .createTable("rollouts")
    .addColumn("id", "uuid", (c) => c.primaryKey())
    .addColumn("pool_id", "text", (c) => c.notNull().references("pools.id").onDelete("cascade"))
    .addColumn("from_image_id", "text", (c) => c.notNull())
    .addColumn("to_image_id", "text", (c) => c.notNull())
    // running, paused, completed, rolled_back, superseded
    .addColumn("state", "text", (c) => c.notNull().defaultTo("running"))
    .addColumn("batch_size", "integer", (c) => c.notNull())
    .addColumn("deadline", "timestamptz")
    .addColumn("warn_before_seconds", "integer", (c) => c.notNull())
    .addColumn("warned_at", "timestamptz")
    .addColumn("replaced", "integer", (c) => c.notNull().defaultTo(0))
    .addColumn("events", "jsonb", (c) => c.notNull().defaultTo(sql`'[]'::jsonb`))
    .addColumn("created_by", "text")
    .addColumn("created_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn("updated_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn("finished_at", "timestamptz")
    .execute();
  // One roll-out in progress per pool.
  await sql`CREATE UNIQUE INDEX rollouts_one_active ON rollouts (pool_id) WHERE state IN ('running', 'paused')`.execute(
    db,
  );
  await sql`CREATE INDEX rollouts_pool ON rollouts (pool_id, created_at)`.execute(db);
  // A roll-out deleted with its pool leaves no task STARTED for ever.
  await sql`
    CREATE FUNCTION rollouts_end_task() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      UPDATE tasks SET status = 'REVOKED', finished_at = now()
       WHERE id = OLD.id AND status = 'STARTED';
      RETURN OLD;
    END $$`.execute(db);
  await sql`
    CREATE TRIGGER rollouts_end_task AFTER DELETE ON rollouts
      FOR EACH ROW EXECUTE FUNCTION rollouts_end_task()`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable("rollouts").execute();
  await sql`DROP FUNCTION rollouts_end_task()`.execute(db);
  await db.schema.alterTable("sessions").dropColumn("notice").execute();
  await db.schema.alterTable("instances").dropColumn("draining").dropColumn("image_id").execute();
  await db.schema.alterTable("pools").dropColumn("draining").dropColumn("drain_reason").execute();
}
