// Admin lists at scale: a pool with many instances, a long assignment history and a million
// sessions, then every list, page, filter, count and statistics of the admin API timed, with
// the size of each answer and rs-server's resident memory (peak during the calls, and after).
// The rows are written straight into PostgreSQL (what months of use leave behind); the
// workers are off, so nothing reconciles them away.
//
//   npm run bench -- admin-scale [--instances 10000] [--history 100000] [--sessions 1000000]
//                                [--runs 20] [--max-page 0] [--no-report]
// --max-page sets admin.maxPageSize (0: off, the whole lists answered, /sessions/ streamed).
import { randomBytes } from "node:crypto";
import { parseArgs } from "node:util";
import { rssMiB } from "./lib/processes.ts";
import { appendReport, machine, quantile } from "./lib/report.ts";
import { createPool, startStack } from "./lib/stack.ts";

const { values: o } = parseArgs({
  options: {
    instances: { type: "string", default: "10000" },
    history: { type: "string", default: "100000" },
    sessions: { type: "string", default: "1000000" },
    runs: { type: "string", default: "20" },
    "max-page": { type: "string", default: "0" },
    "no-report": { type: "boolean", default: false },
  },
});
const INSTANCES = Number(o.instances);
const HISTORY = Number(o.history);
const SESSIONS = Number(o.sessions);
const RUNS = Number(o.runs);
const MAX_PAGE = Number(o["max-page"]);
const USERS = 5000;

const stack = await startStack({
  brokers: 1,
  buildDelayMs: 200,
  workers: false,
  env: { RS_SERVER_ADMIN_MAX_PAGE_SIZE: String(MAX_PAGE) },
});
const pid = stack.servers[0].child.pid!;

interface Case {
  what: string;
  path: string;
  runs?: number;
}

try {
  const poolId = await createPool(stack, `scale-${randomBytes(3).toString("hex")}`);
  const t0 = performance.now();
  await stack.sql(
    `INSERT INTO instances (id, pool_id, name, status, vm_state, fixed_ip, created_at, updated_at)
     SELECT 'scale-' || g, $1, 'desk-' || g, CASE WHEN g % 10 = 0 THEN 'ERROR' ELSE 'ACTIVE' END, 'active',
            '10.0.' || (g / 250) || '.' || (g % 250), now() - make_interval(mins => g), now()
     FROM generate_series(1, $2::int) g`,
    [poolId, INSTANCES],
  );
  await stack.sql(
    `INSERT INTO instance_users (instance_id, user_id, exclusive, assigned_at)
     SELECT 'scale-' || g, 'user-' || (g % ${USERS}), true, now() FROM generate_series(1, $1::int) g WHERE g % 2 = 0`,
    [INSTANCES],
  );
  await stack.sql(
    `INSERT INTO assignment_history (instance_id, subject_type, subject_id, action, actor, at)
     SELECT 'scale-' || (1 + g % $1::int), 'user', 'user-' || (g % ${USERS}),
            CASE WHEN g % 2 = 0 THEN 'assign' ELSE 'unassign' END, 'admin', now() - make_interval(secs => g * 30)
     FROM generate_series(1, $2::int) g`,
    [INSTANCES, HISTORY],
  );
  await stack.sql(
    `INSERT INTO sessions (id, instance_id, instance_name, project_id, user_id, user_name, connection_type,
                           client_ip, client_os, client_info, created_at, closed_at)
     SELECT gen_random_uuid(), 'scale-' || (1 + g % $1::int), 'desk-' || (1 + g % $1::int), $2,
            'user-' || (g % ${USERS}), 'user' || (g % ${USERS}),
            (ARRAY['web', 'rdp', 'rsclient'])[1 + g % 3], '192.0.2.' || (g % 250), 'Linux', 'RS client 2.1',
            now() - make_interval(secs => g * 2),
            CASE WHEN g % 100 = 0 THEN NULL ELSE now() - make_interval(secs => g * 2 - 600) END
     FROM generate_series(1, $3::int) g`,
    [INSTANCES, poolId, SESSIONS],
  );
  await stack.sql("ANALYZE");
  const loadS = (performance.now() - t0) / 1000;

  const weekAgo = new Date(Date.now() - 7 * 86400_000).toISOString().slice(0, 19);
  // Markers for second and deep pages: the last id of the first page, and a session half-way.
  const first = await stack.admin("GET", "/sessions/?limit=100");
  const marker = first.status === 200 ? first.body.sessions.at(-1)?.session_id : "none";
  const [mid] = await stack.sql<{ id: string }>(
    "SELECT id FROM sessions ORDER BY created_at DESC, id DESC OFFSET $1 LIMIT 1",
    [Math.floor(SESSIONS / 2)],
  );
  const servers = await stack.admin("GET", "/servers/?limit=100");
  const serverMarker = servers.status === 200 ? servers.body.servers.at(-1)?.id : "none";
  const cases: Case[] = [
    { what: "servers: whole list", path: "/servers/" },
    { what: "servers: one pool", path: `/servers/?project_id=${poolId}` },
    { what: "servers: free ones", path: "/servers/?assigned=False" },
    { what: "servers: a user's", path: "/servers/?user=user-42" },
    { what: "servers: first page", path: "/servers/?limit=100" },
    { what: "servers: second page", path: `/servers/?limit=100&marker=${serverMarker}` },
    {
      what: "servers: a pool's by name, first page",
      path: `/servers/?project_id=${poolId}&sort_key=name&limit=100`,
    },
    { what: "projects: list", path: "/projects/" },
    { what: "projects: statistics", path: `/projects/${poolId}/statistics` },
    { what: "sessions: count", path: "/sessions/count" },
    { what: "sessions: count by connection type", path: "/sessions/count?connection_type=web" },
    { what: "sessions: user name contains", path: "/sessions/?user_name__contains=user99" },
    { what: "sessions: one user", path: "/sessions/?user_id=user-42" },
    { what: "sessions: one instance", path: "/sessions/?instance_id=scale-42" },
    { what: "sessions: latest per instance of a pool", path: `/sessions/?project_id=${poolId}&last=true` },
    { what: "sessions: first page", path: "/sessions/?limit=100" },
    { what: "sessions: last week, first page", path: `/sessions/?created_at__gt=${weekAgo}&limit=100` },
    { what: "sessions: second page", path: `/sessions/?limit=100&marker=${marker}` },
    { what: "sessions: a page half-way down", path: `/sessions/?limit=100&marker=${mid?.id}` },
    {
      what: "sessions: by user name, first page",
      path: "/sessions/?sort_key=user_name&sort_dir=asc&limit=100",
    },
    {
      what: "sessions: closed last week, oldest first",
      path: `/sessions/?closed_at__gte=${weekAgo}&sort_key=closed_at&sort_dir=asc&limit=100`,
    },
    {
      what: "sessions: latest per instance of a pool, first page",
      path: `/sessions/?last=true&project_id=${poolId}&limit=100`,
    },
    { what: "sessions: count of a pool", path: `/sessions/count?project_id=${poolId}` },
    { what: "sessions: count, last week", path: `/sessions/count?created_at__gt=${weekAgo}` },
    { what: "sessions: count, a user's", path: "/sessions/count?user_id=user-42" },
    { what: "sessions: whole list", path: "/sessions/", runs: 1 },
  ];

  const rssStart = rssMiB(pid);
  const rows: string[] = [];
  for (const c of cases) {
    const times: number[] = [];
    let status = 0;
    let bytes = 0;
    let peak = rssMiB(pid);
    const sampler = setInterval(() => {
      peak = Math.max(peak, rssMiB(pid));
    }, 50);
    const runs = c.runs ?? RUNS;
    for (let i = 0; i < runs; i++) {
      const t = performance.now();
      const res = await stack.admin("GET", c.path);
      times.push(performance.now() - t);
      status = res.status;
      bytes = res.bytes;
      if (status !== 200) break;
    }
    clearInterval(sampler);
    times.sort((a, b) => a - b);
    const size = bytes > 1 << 20 ? `${(bytes / (1 << 20)).toFixed(1)} MB` : `${(bytes / 1024).toFixed(1)} KB`;
    rows.push(
      status === 200
        ? `${c.what} (\`${c.path.replace(poolId, "{pool}")}\`): p50 ${quantile(times, 0.5).toFixed(0)} ms, p99 ${quantile(times, 0.99).toFixed(0)} ms over ${times.length} runs, ${size}, peak RSS ${peak.toFixed(0)} MiB`
        : `${c.what} (\`${c.path.replace(poolId, "{pool}")}\`): HTTP ${status} (not supported)`,
    );
    console.log(rows.at(-1));
  }
  const lines = [
    `data: ${INSTANCES} instances, ${HISTORY} assignment-history rows, ${SESSIONS} sessions, loaded in ${loadS.toFixed(0)} s; workers off; admin.maxPageSize ${MAX_PAGE}`,
    ...rows,
    `rs-server resident memory: ${rssStart.toFixed(0)} MiB before the calls, ${rssMiB(pid).toFixed(0)} MiB after`,
  ];
  console.log(machine());
  console.log(lines[0]);
  console.log(lines.at(-1));
  if (!o["no-report"]) appendReport("Admin lists at scale (`bench/admin-scale.ts`)", lines);
} finally {
  await stack.stop();
}
