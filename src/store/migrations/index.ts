// Versioned migrations, applied in name order at start. Add a file and list it here.
import type { Migration } from "kysely";
import * as m001 from "./001_initial.ts";
import * as m002 from "./002_task_leases.ts";
import * as m020 from "./020_broker_requests.ts";
import * as m030 from "./030_request_peer_ip.ts";
import * as m045 from "./045_build_failures.ts";
import * as m050 from "./050_console_tickets.ts";
import * as m065 from "./065_rate_limits.ts";
import * as m073 from "./073_list_indexes.ts";
import * as m074 from "./074_session_latest.ts";
import * as m086 from "./086_reserve_schedule.ts";
import * as m090 from "./090_audit_trail.ts";
import * as m091 from "./091_session_policies.ts";
import * as m095 from "./095_drain_rollout.ts";
import * as m096 from "./096_instance_holder_count.ts";
import * as m097 from "./097_session_count_slots.ts";
import * as m098 from "./098_user_builds.ts";
import * as m099 from "./099_requests_created.ts";
import * as m100 from "./100_periodic_job_outcomes.ts";

export const migrations: Record<string, Migration> = {
  "001_initial": m001,
  "002_task_leases": m002,
  "020_broker_requests": m020,
  "030_request_peer_ip": m030,
  "045_build_failures": m045,
  "050_console_tickets": m050,
  "065_rate_limits": m065,
  "073_list_indexes": m073,
  "074_session_latest": m074,
  "086_reserve_schedule": m086,
  "090_audit_trail": m090,
  "091_session_policies": m091,
  "095_drain_rollout": m095,
  "096_instance_holder_count": m096,
  "097_session_count_slots": m097,
  "098_user_builds": m098,
  "099_requests_created": m099,
  "100_periodic_job_outcomes": m100,
};
