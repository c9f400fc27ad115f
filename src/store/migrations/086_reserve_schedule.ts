// Reserve schedules, readiness and the build circuit (issue 16, "sched"):
// - pools.reserve_schedule: the pool's windows (JSON, validated by core/reserve-schedule.ts);
//   null: the reserve is min_reserve_vm at all times.
// - pools.reserve_failed_builds: failed builds since the reserve last held ACTIVE instances
//   (the circuit opens when it reaches reserve.circuitFailures).
// - instances.active_at: when the instance last became ACTIVE (a trigger keeps it, whatever
//   path writes the status); instances.ready_at: from when it may be handed out as a free
//   instance (ACTIVE plus the boot grace, or its port answered). Leaving ACTIVE clears both.
import { type Kysely, sql } from "kysely";

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .alterTable("pools")
    .addColumn("reserve_schedule", "jsonb")
    .addColumn("reserve_failed_builds", "integer", (c) => c.notNull().defaultTo(sql`0`))
    .execute();
  await db.schema
    .alterTable("instances")
    .addColumn("active_at", "timestamptz")
    .addColumn("ready_at", "timestamptz")
    .execute();
  // The instances already ACTIVE were handed out before: they stay ready.
  await sql`UPDATE instances SET active_at = updated_at, ready_at = updated_at
             WHERE status = 'ACTIVE' AND deleted_at IS NULL`.execute(db);
  await sql`
    CREATE FUNCTION instances_active_at() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF NEW.status = 'ACTIVE' THEN
        IF TG_OP = 'INSERT' OR OLD.status IS DISTINCT FROM 'ACTIVE' THEN
          NEW.active_at := coalesce(NEW.active_at, now());
        END IF;
      ELSE
        NEW.active_at := NULL;
        NEW.ready_at := NULL;
      END IF;
      RETURN NEW;
    END $$`.execute(db);
  await sql`
    CREATE TRIGGER instances_active_at BEFORE INSERT OR UPDATE OF status ON instances
    FOR EACH ROW EXECUTE FUNCTION instances_active_at()`.execute(db);
  await sql`CREATE INDEX instances_not_ready ON instances (pool_id)
             WHERE status = 'ACTIVE' AND ready_at IS NULL AND deleted_at IS NULL`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`DROP TRIGGER instances_active_at ON instances`.execute(db);
  await sql`DROP FUNCTION instances_active_at()`.execute(db);
  await sql`DROP INDEX instances_not_ready`.execute(db);
  await db.schema.alterTable("instances").dropColumn("active_at").dropColumn("ready_at").execute();
  await db.schema
    .alterTable("pools")
    .dropColumn("reserve_schedule")
    .dropColumn("reserve_failed_builds")
    .execute();
}
