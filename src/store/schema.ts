// Row types of the tables created by the migrations.
import type { ColumnType, Generated } from "kysely";
import type { RequestStep } from "../shared/types.ts";

type Timestamp = ColumnType<Date, Date | string | undefined, Date | string>;
type NullableTimestamp = ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;
type Json<T> = ColumnType<T, string | undefined, string>;

export interface PoolsTable {
  id: string;
  name: string;
  domain_id: string;
  flavor_id: string;
  image_id: string;
  network_id: string | null;
  availability_zone: string | null;
  operation_mode: string;
  max_users_per_instance: number | null;
  instance_init_script: string | null;
  min_reserve_vm: Generated<number>;
  instance_name_pattern: string;
  name_counter: ColumnType<string, string | number | undefined, string | number>;
  user_volume_enabled: Generated<boolean>;
  volume_size: number | null;
  volume_type_id: string | null;
  reserve_state: Generated<string>;
  reserve_failures: Generated<number>;
  reserve_backoff_until: NullableTimestamp;
  reserve_message: string | null;
  /** The desktop's VNC port the console gateway reaches (null: console.defaultPort). */
  console_port: number | null;
  /** gateway, nova-novnc or nova-spice: see docs/web-desktop.md. */
  console_kind: Generated<string>;
  /** Builds of the pool's instances that failed, ever (migration 045). */
  build_failures: Generated<number>;
  last_build_failure: string | null;
  last_build_failure_at: NullableTimestamp;
  /** Session policies (migration 091; null: no limit): see core/session-policy.ts. */
  session_idle_minutes: number | null;
  session_disconnected_minutes: number | null;
  session_max_minutes: number | null;
  /** keep, rebuild or replace: what becomes of the desktop after its session ends. */
  session_end_action: Generated<string>;
  /** The reserve's windows (migration 086; core/reserve-schedule.ts); null: none. */
  reserve_schedule: ColumnType<unknown | null, string | null | undefined, string | null>;
  /** Failed builds since the reserve last held ACTIVE instances (the build circuit). */
  reserve_failed_builds: Generated<number>;
  /** No new allocation goes to the pool (migration 095). */
  draining: Generated<boolean>;
  drain_reason: string | null;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface InstancesTable {
  id: string;
  pool_id: string;
  name: string;
  description: string | null;
  status: Generated<string>;
  vm_state: string | null;
  task_state: string | null;
  progress: Generated<number>;
  fixed_ip: string | null;
  reservation_id: string | null;
  fault: string | null;
  /** When its failed build was counted (once) in the pool's build_failures. */
  build_failed_at: NullableTimestamp;
  /** When it last became ACTIVE (a trigger keeps it); null while not ACTIVE (migration 086). */
  active_at: NullableTimestamp;
  /** From when it may be handed out free: ACTIVE plus the boot grace, or its port answered. */
  ready_at: NullableTimestamp;
  /** No new allocation goes to the instance; its holders keep it (migration 095). */
  draining: Generated<boolean>;
  /** The Glance image it was built from (Nova's server image.id); null: unknown. */
  image_id: ColumnType<string | null, string | null | undefined, string | null>;
  /** Its users plus its groups, kept by triggers: 0 puts it in the free index (migration 096). */
  holder_count: ColumnType<number, never, never>;
  created_at: Timestamp;
  updated_at: Timestamp;
  deleted_at: NullableTimestamp;
}

export interface InstanceUsersTable {
  instance_id: string;
  user_id: string;
  exclusive: Generated<boolean>;
  assigned_by: string | null;
  assigned_at: Timestamp;
}

export interface InstanceGroupsTable {
  instance_id: string;
  group_id: string;
  assigned_by: string | null;
  assigned_at: Timestamp;
}

export interface AssignmentHistoryTable {
  id: Generated<string>;
  instance_id: string;
  subject_type: "user" | "group";
  subject_id: string;
  action: "assign" | "unassign";
  actor: string | null;
  reason: string | null;
  at: Timestamp;
}

export interface UserFloatingIpsTable {
  user_id: string;
  floating_ip_id: string;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface VolumeAssignmentsTable {
  id: Generated<number>;
  user_id: string;
  project_id: string;
  volume_id: string;
  created_at: Timestamp;
}

/** A user's build in progress in a pool: one at a time (migration 098). */
export interface UserBuildsTable {
  pool_id: string;
  user_id: string;
  request_id: string;
  started_at: Generated<Date>;
  expires_at: Date;
}

export interface SessionsTable {
  id: string;
  instance_id: string;
  instance_name: string | null;
  project_id: string | null;
  user_id: string;
  user_name: string | null;
  connection_type: string | null;
  client_ip: string | null;
  client_os: string | null;
  client_info: string | null;
  request_id: string | null;
  rule_ids: Json<string[]>;
  created_at: Timestamp;
  closed_at: NullableTimestamp;
  /** Last activity a client or the web console gateway reported (migration 091). */
  active_at: NullableTimestamp;
  /** When the client reported it disconnected (null: connected). */
  disconnected_at: NullableTimestamp;
  /** idle, disconnected or max_length when a session policy closed it. */
  closed_reason: string | null;
  /** A message for the session's user (a roll-out's warning before its deadline), migration 095. */
  notice: ColumnType<string | null, string | null | undefined, string | null>;
}

/** Sessions counted per pool and connection type, kept by triggers (migration 073). */
export interface SessionCountsTable {
  project_id: string | null;
  connection_type: string | null;
  /** The UTC day the sessions opened. */
  day: string;
  /** Concurrent writers add to different rows (the backend's pid modulo 8). */
  slot: number;
  n: string;
}

/** The latest session of each instance (by created_at, then id), kept by triggers (migration 074). */
export interface SessionLatestTable {
  instance_id: string;
  project_id: string | null;
  session_id: string;
  created_at: Timestamp;
}

export interface RequestsTable {
  id: string;
  user_id: string;
  user_name: string | null;
  domain_id: string | null;
  project_id: string;
  project_name: string | null;
  status: Generated<string>;
  error_code: number | null;
  error_data: Json<Record<string, unknown> | null>;
  instance_id: string | null;
  ip: string | null;
  conn_type: string | null;
  client_ip: string | null;
  /** The address the request came from (the client's ip_address may differ or be absent). */
  peer_ip: string | null;
  client_os: string | null;
  client_info: string | null;
  steps: Json<RequestStep[]>;
  task_id: string | null;
  created_at: Timestamp;
  updated_at: Timestamp;
  completed_at: NullableTimestamp;
}

export type TaskStatus = "PENDING" | "STARTED" | "RETRY" | "FAILURE" | "SUCCESS" | "REVOKED";

export interface TasksTable {
  id: string;
  name: string;
  status: ColumnType<TaskStatus, TaskStatus | undefined, TaskStatus>;
  args: Json<Record<string, unknown>>;
  result: string | null;
  traceback: string | null;
  retries: Generated<number>;
  created_at: Timestamp;
  started_at: NullableTimestamp;
  finished_at: NullableTimestamp;
}

export interface RateLimitsTable {
  key: string;
  window_start: Timestamp;
  count: number;
}

export interface ConsoleTicketsTable {
  /** SHA-256 of the ticket (base64url): the ticket itself is never stored. */
  hash: string;
  user_id: string;
  user_name: string | null;
  request_id: string;
  instance_id: string;
  host: string;
  port: number;
  client_os: string | null;
  client_info: string | null;
  created_at: Timestamp;
  expires_at: Timestamp;
  used_at: NullableTimestamp;
}

/** The audit trail (migration 090): append-only, enforced by a trigger. */
export interface AuditEventsTable {
  id: ColumnType<string, never, never>;
  at: Timestamp;
  user_id: string | null;
  user_name: string | null;
  domain_id: string | null;
  method: string;
  route: string;
  target: Json<Record<string, string>>;
  changed_keys: Json<string[]>;
  changed_values: Json<Record<string, unknown>>;
  client_ip: string | null;
  status: number;
  request_id: string | null;
}

export interface RolloutEvent {
  at: string;
  kind: string;
  message: string;
}

/** A golden-image roll-out of a pool (migration 095; store/rollouts.ts). */
export interface RolloutsTable {
  id: string;
  pool_id: string;
  from_image_id: string;
  to_image_id: string;
  /** running, paused, completed, rolled_back or superseded. */
  state: Generated<string>;
  batch_size: number;
  deadline: NullableTimestamp;
  warn_before_seconds: number;
  warned_at: NullableTimestamp;
  replaced: Generated<number>;
  events: ColumnType<RolloutEvent[], string | undefined, string>;
  created_by: string | null;
  created_at: Timestamp;
  updated_at: Timestamp;
  finished_at: NullableTimestamp;
}

export interface Database {
  pools: PoolsTable;
  instances: InstancesTable;
  instance_users: InstanceUsersTable;
  instance_groups: InstanceGroupsTable;
  assignment_history: AssignmentHistoryTable;
  user_floating_ips: UserFloatingIpsTable;
  volume_assignments: VolumeAssignmentsTable;
  sessions: SessionsTable;
  session_counts: SessionCountsTable;
  user_builds: UserBuildsTable;
  session_latest: SessionLatestTable;
  requests: RequestsTable;
  tasks: TasksTable;
  rate_limits: RateLimitsTable;
  console_tickets: ConsoleTicketsTable;
  audit_events: AuditEventsTable;
  rollouts: RolloutsTable;
}
