// The audit trail at the admin API (issue 16): one hook on the /v1 scope records every write
// request (POST, PUT, PATCH, DELETE) a route answered, refused ones included, before the
// answer leaves (so a client that got its answer finds the event listed); and GET /v1/audit
// lists the trail with the reference's filter modifiers, newest first. What is kept of a
// request is the core's decision (core/audit.ts): key names, safe values, no secrets.
import { Type as T } from "@sinclair/typebox";
import type { Core } from "../core/index.ts";
import type { App } from "../http/app.ts";
import { badRequest } from "../http/errors.ts";
import { parseFilters } from "../http/query.ts";
import type { AdminRoutes } from "./app.ts";
import { errors, isoUtc } from "./wire.ts";

const WRITES = new Set(["POST", "PUT", "PATCH", "DELETE"]);

/** Adds the hook to a scope; every route registered in it after this is audited. */
export function auditChanges(scope: App, core: Core): void {
  scope.addHook("onSend", async (req, reply, payload) => {
    const route = req.routeOptions.url;
    if (!WRITES.has(req.method) || !route) return payload;
    // A caller over the rate limit is a flood: its first refusals are recorded, the 429s that
    // follow are counted in the rate limits' table and the log, not one audit row each.
    if (reply.statusCode === 429) return payload;
    const caller = req.caller;
    await core.audit.record({
      caller: caller && { userId: caller.userId, userName: caller.userName, domainId: caller.domainId },
      claimedUser:
        req.routeOptions.config.access === "public" && typeof (req.body as any)?.user === "string"
          ? (req.body as any).user
          : undefined,
      method: req.method,
      route,
      params: (req.params ?? {}) as Record<string, unknown>,
      body: req.body,
      clientIp: req.ip ?? null,
      status: reply.statusCode,
      requestId: String(req.id),
    });
    return payload;
  });
}

const AuditEventBody = T.Object({
  id: T.String({ description: "Event id (grows with time)." }),
  at: T.String({ description: "When the answer was given (UTC)." }),
  user_id: T.Union([T.String(), T.Null()], { description: "The token's user id (null: no valid token)." }),
  user_name: T.Union([T.String(), T.Null()], {
    description: "The token's user name (on the sign-in: the name sent).",
  }),
  domain_id: T.Union([T.String(), T.Null()]),
  method: T.String({ description: "POST, PUT, PATCH or DELETE." }),
  route: T.String({ description: "The route's pattern, e.g. /v1/projects/:project_id." }),
  target: T.Record(T.String(), T.String(), { description: "The route's parameters: the target ids." }),
  changed_keys: T.Array(T.String(), { description: "Names of every key the body sent (dotted paths)." }),
  changed_values: T.Record(T.String(), T.Unknown(), {
    description: "Values of the safe keys only: never passwords, tokens, codes or scripts.",
  }),
  client_ip: T.Union([T.String(), T.Null()], {
    description: "The client's address as the request log has it.",
  }),
  status: T.Integer({ description: "The HTTP status answered: the outcome." }),
  request_id: T.Union([T.String(), T.Null()], { description: "The request id of the log lines." }),
});

const example = {
  id: "42",
  at: "2026-12-03T08:00:00",
  user_id: "56d88dd0a3ab4c4c8d1d15534352d7de",
  user_name: "admin",
  domain_id: "default",
  method: "PUT",
  route: "/v1/projects/:project_id",
  target: { project_id: "3005d0d44cf84c7cbcb1ad1be83fba8f" },
  changed_keys: ["project.min_reserve_vm", "project.instance_init_script"],
  changed_values: { "project.min_reserve_vm": 5 },
  client_ip: "192.168.0.2",
  status: 200,
  request_id: "http-6f1c1c6e-3f0b-4a43-9d0e-2b8c4c2c8a11",
};

const MODIFIABLE = [
  "user_id",
  "user_name",
  "method",
  "route",
  "status",
  "client_ip",
  "target",
  "changed_keys",
];
const AT_OPS = new Set(["gt", "gte", "lt", "lte", "eq"]);
const DEFAULT_LIMIT = 100;
const MAX_LIMIT = 10_000;

/** An ISO 8601 time; without an offset it is UTC, as the API writes its own. */
function parseTime(raw: string, name: string): Date {
  const at = new Date(/[zZ]|[+-]\d\d:?\d\d$/.test(raw) ? raw : `${raw}Z`);
  if (!/^\d{4}-\d\d-\d\d/.test(raw) || Number.isNaN(at.getTime()))
    throw badRequest(`${name} must be an ISO 8601 time`);
  return at;
}

function auditFilter(query: Record<string, unknown>) {
  const { filters, plain } = parseFilters(query, {
    modifiable: [...MODIFIABLE, "at"],
    plain: ["limit", "before_id"],
  });
  const at = [];
  for (const f of filters.filter((f) => f.field === "at")) {
    if (!AT_OPS.has(f.op)) throw badRequest(`Unknown modifier ${f.op} on at (gt, gte, lt, lte)`);
    at.push({ op: f.op as "gt", value: parseTime(f.values[0], `at__${f.op}`) });
  }
  let limit = DEFAULT_LIMIT;
  if (plain.limit !== undefined) {
    if (!/^\d{1,6}$/.test(plain.limit) || Number(plain.limit) < 1 || Number(plain.limit) > MAX_LIMIT)
      throw badRequest(`limit must be an integer from 1 to ${MAX_LIMIT}`);
    limit = Number(plain.limit);
  }
  const beforeId = plain.before_id;
  if (beforeId !== undefined && !/^\d{1,18}$/.test(beforeId))
    throw badRequest("before_id must be an event id (a whole number)");
  return { filters: filters.filter((f) => f.field !== "at"), at, limit, beforeId };
}

export const auditRoutes: AdminRoutes = (app, { core }) => {
  app.get(
    "/audit",
    {
      schema: {
        tags: ["audit"],
        summary: "List the audit trail (extension)",
        description:
          "Every write request (POST, PUT, PATCH, DELETE) the admin API answered, refused ones included, newest first. " +
          `Filters with modifiers (\`__contains\`, \`__in\`, ...): ${MODIFIABLE.join(", ")}; time range: ` +
          `at__gt, at__gte, at__lt, at__lte (ISO 8601, UTC without offset); limit (1-${MAX_LIMIT}, default ${DEFAULT_LIMIT}); ` +
          "before_id (the next page: events older than that id).",
        querystring: T.Object(
          {
            user_id: T.Optional(T.String({ description: "User id (modifiers allowed)." })),
            user_name: T.Optional(T.String({ description: "User name (modifiers allowed)." })),
            method: T.Optional(T.String({ description: "HTTP method (modifiers allowed)." })),
            route: T.Optional(T.String({ description: "Route pattern (modifiers allowed)." })),
            status: T.Optional(T.String({ description: "HTTP status answered (modifiers allowed)." })),
            client_ip: T.Optional(T.String({ description: "Client address (modifiers allowed)." })),
            target: T.Optional(
              T.String({ description: "Target ids as JSON text: use target__contains=<id>." }),
            ),
            changed_keys: T.Optional(
              T.String({ description: "Key names as JSON text: changed_keys__contains=<name>." }),
            ),
            limit: T.Optional(
              T.String({ description: `At most this many events (default ${DEFAULT_LIMIT}).` }),
            ),
          },
          { additionalProperties: true },
        ),
        response: {
          200: T.Object({ events: T.Array(AuditEventBody) }, { example: { events: [example] } }),
          ...errors(400),
        },
      },
    },
    async (req) => {
      const events = await core.audit.list(auditFilter(req.query as Record<string, unknown>));
      return {
        events: events.map((e) => ({
          id: String(e.id),
          at: isoUtc(e.at) as string,
          user_id: e.user_id,
          user_name: e.user_name,
          domain_id: e.domain_id,
          method: e.method,
          route: e.route,
          target: e.target,
          changed_keys: e.changed_keys,
          changed_values: e.changed_values,
          client_ip: e.client_ip,
          status: e.status,
          request_id: e.request_id,
        })),
      };
    },
  );
};
