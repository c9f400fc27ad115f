// The domain's tables. Pools are keyed by their Keystone project id, instances by their
// Nova server id; assignments and their history, user resources, sessions, broker requests
// and tasks all live here so that any number of rs-server processes share one truth.
import { type Kysely, sql } from "kysely";

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable("pools")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("name", "text", (c) => c.notNull())
    .addColumn("domain_id", "text", (c) => c.notNull())
    .addColumn("flavor_id", "text", (c) => c.notNull())
    .addColumn("image_id", "text", (c) => c.notNull())
    .addColumn("network_id", "text")
    .addColumn("availability_zone", "text")
    .addColumn("operation_mode", "text", (c) => c.notNull().defaultTo("1"))
    .addColumn("max_users_per_instance", "integer")
    .addColumn("instance_init_script", "text")
    .addColumn("min_reserve_vm", "integer", (c) => c.notNull().defaultTo(0))
    .addColumn("instance_name_pattern", "text", (c) => c.notNull())
    .addColumn("name_counter", "bigint", (c) => c.notNull().defaultTo(0))
    .addColumn("user_volume_enabled", "boolean", (c) => c.notNull().defaultTo(false))
    .addColumn("volume_size", "integer")
    .addColumn("volume_type_id", "text")
    .addColumn("reserve_state", "text", (c) => c.notNull().defaultTo("ok"))
    .addColumn("reserve_failures", "integer", (c) => c.notNull().defaultTo(0))
    .addColumn("reserve_backoff_until", "timestamptz")
    .addColumn("reserve_message", "text")
    .addColumn("created_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn("updated_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .execute();

  await db.schema
    .createTable("instances")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("pool_id", "text", (c) => c.notNull().references("pools.id").onDelete("cascade"))
    .addColumn("name", "text", (c) => c.notNull())
    .addColumn("description", "text")
    .addColumn("status", "text", (c) => c.notNull().defaultTo("BUILD"))
    .addColumn("vm_state", "text")
    .addColumn("task_state", "text")
    .addColumn("progress", "integer", (c) => c.notNull().defaultTo(0))
    .addColumn("fixed_ip", "text")
    .addColumn("reservation_id", "text")
    .addColumn("fault", "text")
    .addColumn("created_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn("updated_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn("deleted_at", "timestamptz")
    .execute();
  await db.schema
    .createIndex("instances_pool_status")
    .on("instances")
    .columns(["pool_id", "status"])
    .execute();

  // exclusive = the instance's pool is Standard: one user at a time, enforced by the index
  // below so that no race between broker processes can ever give it two users.
  await db.schema
    .createTable("instance_users")
    .addColumn("instance_id", "text", (c) => c.notNull().references("instances.id").onDelete("cascade"))
    .addColumn("user_id", "text", (c) => c.notNull())
    .addColumn("exclusive", "boolean", (c) => c.notNull().defaultTo(false))
    .addColumn("assigned_by", "text")
    .addColumn("assigned_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint("instance_users_pk", ["instance_id", "user_id"])
    .execute();
  await sql`CREATE UNIQUE INDEX instance_users_one_holder ON instance_users (instance_id) WHERE exclusive`.execute(
    db,
  );
  await db.schema.createIndex("instance_users_user").on("instance_users").column("user_id").execute();

  await db.schema
    .createTable("instance_groups")
    .addColumn("instance_id", "text", (c) => c.notNull().references("instances.id").onDelete("cascade"))
    .addColumn("group_id", "text", (c) => c.notNull())
    .addColumn("assigned_by", "text")
    .addColumn("assigned_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint("instance_groups_pk", ["instance_id", "group_id"])
    .execute();
  await db.schema.createIndex("instance_groups_group").on("instance_groups").column("group_id").execute();

  await db.schema
    .createTable("assignment_history")
    .addColumn("id", "bigserial", (c) => c.primaryKey())
    .addColumn("instance_id", "text", (c) => c.notNull())
    .addColumn("subject_type", "text", (c) => c.notNull())
    .addColumn("subject_id", "text", (c) => c.notNull())
    .addColumn("action", "text", (c) => c.notNull())
    .addColumn("actor", "text")
    .addColumn("reason", "text")
    .addColumn("at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await db.schema
    .createIndex("assignment_history_instance")
    .on("assignment_history")
    .column("instance_id")
    .execute();

  await db.schema
    .createTable("user_floating_ips")
    .addColumn("user_id", "text", (c) => c.primaryKey())
    .addColumn("floating_ip_id", "text", (c) => c.notNull().unique())
    .addColumn("created_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn("updated_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .execute();

  await db.schema
    .createTable("volume_assignments")
    .addColumn("id", "serial", (c) => c.primaryKey())
    .addColumn("user_id", "text", (c) => c.notNull())
    .addColumn("project_id", "text", (c) => c.notNull())
    .addColumn("volume_id", "text", (c) => c.notNull().unique())
    .addColumn("created_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .addUniqueConstraint("volume_assignments_user_project", ["user_id", "project_id"])
    .execute();

  await db.schema
    .createTable("sessions")
    .addColumn("id", "uuid", (c) => c.primaryKey())
    .addColumn("instance_id", "text", (c) => c.notNull())
    .addColumn("instance_name", "text")
    .addColumn("project_id", "text")
    .addColumn("user_id", "text", (c) => c.notNull())
    .addColumn("user_name", "text")
    .addColumn("connection_type", "text")
    .addColumn("client_ip", "text")
    .addColumn("client_os", "text")
    .addColumn("client_info", "text")
    .addColumn("request_id", "text")
    .addColumn("rule_ids", "jsonb", (c) => c.notNull().defaultTo(sql`'[]'::jsonb`))
    .addColumn("created_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn("closed_at", "timestamptz")
    .execute();
  await db.schema
    .createIndex("sessions_instance")
    .on("sessions")
    .columns(["instance_id", "created_at"])
    .execute();
  await db.schema.createIndex("sessions_user").on("sessions").column("user_id").execute();

  await db.schema
    .createTable("requests")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("user_id", "text", (c) => c.notNull())
    .addColumn("user_name", "text")
    .addColumn("domain_id", "text")
    .addColumn("project_id", "text", (c) => c.notNull())
    .addColumn("project_name", "text")
    .addColumn("status", "text", (c) => c.notNull().defaultTo("pending"))
    .addColumn("error_code", "integer")
    .addColumn("error_data", "jsonb")
    .addColumn("instance_id", "text")
    .addColumn("ip", "text")
    .addColumn("conn_type", "text")
    .addColumn("client_ip", "text")
    .addColumn("client_os", "text")
    .addColumn("client_info", "text")
    .addColumn("steps", "jsonb", (c) => c.notNull().defaultTo(sql`'[]'::jsonb`))
    .addColumn("task_id", "uuid")
    .addColumn("created_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn("updated_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn("completed_at", "timestamptz")
    .execute();

  await db.schema
    .createTable("tasks")
    .addColumn("id", "uuid", (c) => c.primaryKey())
    .addColumn("name", "text", (c) => c.notNull())
    .addColumn("status", "text", (c) => c.notNull().defaultTo("PENDING"))
    .addColumn("args", "jsonb", (c) => c.notNull().defaultTo(sql`'{}'::jsonb`))
    .addColumn("result", "text")
    .addColumn("traceback", "text")
    .addColumn("retries", "integer", (c) => c.notNull().defaultTo(0))
    .addColumn("created_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn("started_at", "timestamptz")
    .addColumn("finished_at", "timestamptz")
    .execute();
  await db.schema.createIndex("tasks_created").on("tasks").column("created_at").execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const table of [
    "tasks",
    "requests",
    "sessions",
    "volume_assignments",
    "user_floating_ips",
    "assignment_history",
    "instance_groups",
    "instance_users",
    "instances",
    "pools",
  ]) {
    await db.schema.dropTable(table).ifExists().execute();
  }
}
