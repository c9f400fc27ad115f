// In-memory stand-ins for the repositories and clients the core rules talk to: each keeps
// what it was asked in `calls`, so a test can say which calls a rule made and in what order.
import pino from "pino";
import type { InstanceRow } from "../../../src/store/holders.ts";
import type { Pool } from "../../../src/store/pools.ts";

export const silent = pino({ level: "silent" });

export function pool(overrides: Partial<Pool> = {}): Pool {
  return {
    id: "pool-1",
    name: "lab",
    domain_id: "default",
    flavor_id: "flavor-1",
    image_id: "image-1",
    network_id: "net-1",
    availability_zone: null,
    operation_mode: "1",
    max_users_per_instance: null,
    instance_init_script: null,
    min_reserve_vm: 0,
    instance_name_pattern: "trs-**",
    name_counter: "0",
    user_volume_enabled: false,
    volume_size: null,
    volume_type_id: null,
    console_port: null,
    console_kind: "gateway",
    reserve_state: "ok",
    reserve_failures: 0,
    reserve_backoff_until: null,
    reserve_message: null,
    build_failures: 0,
    last_build_failure: null,
    last_build_failure_at: null,
    session_idle_minutes: null,
    session_disconnected_minutes: null,
    session_max_minutes: null,
    session_end_action: "keep",
    reserve_schedule: null,
    reserve_failed_builds: 0,
    draining: false,
    drain_reason: null,
    created_at: new Date(0),
    updated_at: new Date(0),
    ...overrides,
  };
}

export function instance(overrides: Partial<InstanceRow> = {}): InstanceRow {
  return {
    id: "vm-1",
    pool_id: "pool-1",
    name: "trs-01",
    description: null,
    status: "ACTIVE",
    vm_state: "active",
    task_state: null,
    progress: 0,
    fixed_ip: null,
    reservation_id: null,
    fault: null,
    created_at: new Date(0),
    updated_at: new Date(0),
    deleted_at: null,
    build_failed_at: null,
    active_at: null,
    ready_at: null,
    draining: false,
    image_id: "image-1",
    holder_count: 0,
    ...overrides,
  };
}

/** A PostgreSQL unique violation, as the pg driver raises it. */
export const uniqueViolation = () => Object.assign(new Error("duplicate key"), { code: "23505" });
