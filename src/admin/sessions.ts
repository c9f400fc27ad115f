// Sessions (#26-#28) and the PUT extension that closes one. POST takes an admin token, or a
// user token for an instance assigned to that user (directly or through a group).
import { Readable } from "node:stream";
import { Type as T } from "@sinclair/typebox";
import type { FastifyReply, FastifyRequest } from "fastify";
import { SESSION_SORTS, type Session, type SessionFilter, type SessionService } from "../core/sessions.ts";
import { callerOf } from "../http/auth.ts";
import { badRequest } from "../http/errors.ts";
import { PAGING_PARAMS, type Paging, pageLinks, parsePaging, takeTimeFilters } from "../http/paging.ts";
import { parseBool, parseFilters } from "../http/query.ts";
import type { AdminRoutes } from "./app.ts";
import { PageLinks, pagingQuery } from "./paged.ts";
import { errors, Id, isoUtc, Timestamp } from "./wire.ts";

const Nullable = (description: string) => T.Union([T.String(), T.Null()], { description });

const SessionBody = T.Object({
  session_id: T.String({ description: "Session id." }),
  instance_id: T.String({ description: "Instance id." }),
  instance_name: Nullable("Instance name at the time of the session."),
  project_id: Nullable("TRS project id."),
  user_id: T.String({ description: "User id." }),
  user_name: Nullable("User name."),
  connection: Nullable("Connection type, under the key the reference's examples use."),
  connection_type: Nullable("Connection type (web, rsclient, rdp, vnc, spice, ssh)."),
  closed_at: Timestamp("Closing time; null while open."),
  client_ip: Nullable("Client IP address."),
  client_os: Nullable("Client operating system."),
  client_info: Nullable("Client information."),
  created_at: Timestamp("Opening time."),
  active_at: Timestamp("Extension: the last activity reported (null: none since it opened)."),
  disconnected_at: Timestamp("Extension: when its client reported it disconnected (null: connected)."),
  closed_reason: Nullable("Extension: idle, disconnected or max_length when a session policy closed it."),
  notice: T.Optional(
    Nullable(
      "Extension: a message for the session's user, e.g. a roll-out's warning that the desktop is replaced at a deadline.",
    ),
  ),
});

const sessionExample = {
  session_id: "11fa220f-9f88-406a-ba79-0acbba83c32b",
  instance_id: "e3afefea-7dfe-4754-8607-fb3f45b0fe07",
  instance_name: "trs-01",
  project_id: "3005d0d44cf84c7cbcb1ad1be83fba8f",
  user_id: "56d88dd0a3ab4c4c8d1d15534352d7de",
  user_name: "admin",
  connection: "web",
  connection_type: "web",
  closed_at: null,
  client_ip: "192.168.0.2",
  client_os: "Ubuntu 16.04",
  client_info: "RSclient 0.1.0",
  created_at: "2018-10-31T12:59:43",
  active_at: "2018-10-31T13:20:00",
  disconnected_at: null,
  closed_reason: null,
};

function sessionJson(s: Session) {
  return {
    session_id: s.id,
    instance_id: s.instance_id,
    instance_name: s.instance_name,
    project_id: s.project_id,
    user_id: s.user_id,
    user_name: s.user_name,
    connection: s.connection_type,
    connection_type: s.connection_type,
    closed_at: isoUtc(s.closed_at),
    client_ip: s.client_ip,
    client_os: s.client_os,
    client_info: s.client_info,
    created_at: isoUtc(s.created_at),
    active_at: isoUtc(s.active_at),
    disconnected_at: isoUtc(s.disconnected_at),
    closed_reason: s.closed_reason,
    notice: s.notice,
  };
}

const FilterQuery = T.Object(
  {
    user_id: T.Optional(T.String({ description: "User id (modifiers allowed)." })),
    user_name: T.Optional(T.String({ description: "User name (modifiers allowed)." })),
    instance_id: T.Optional(T.String({ description: "Instance id (modifiers allowed)." })),
    instance_name: T.Optional(T.String({ description: "Instance name." })),
    project_id: T.Optional(T.String({ description: "TRS project id." })),
    connection_type: T.Optional(T.String({ description: "Connection type." })),
    last: T.Optional(T.String({ description: "Only the latest session of each instance (true/false)." })),
    created_at: T.Optional(
      T.String({ description: "Opening time range: created_at__gt/__gte/__lt/__lte (ISO 8601)." }),
    ),
    closed_at: T.Optional(
      T.String({ description: "Closing time range: closed_at__gt/__gte/__lt/__lte (ISO 8601)." }),
    ),
  },
  { additionalProperties: true },
);

function sessionQuery(query: Record<string, unknown>, paged: boolean) {
  const { filters, plain } = parseFilters(query, {
    modifiable: ["user_id", "user_name", "instance_id", "created_at", "closed_at"],
    plain: ["instance_name", "project_id", "connection_type", "last", ...(paged ? PAGING_PARAMS : [])],
  });
  const { rest, times } = takeTimeFilters(filters, ["created_at", "closed_at"]);
  const filter: SessionFilter = {
    filters: rest,
    times,
    instanceName: plain.instance_name,
    projectId: plain.project_id,
    connectionType: plain.connection_type,
    last: parseBool(plain.last, "last") ?? false,
  };
  return { filter, plain };
}

const sessionFilter = (query: Record<string, unknown>) => sessionQuery(query, false).filter;

/**
 * The whole list without building it: `{"sessions": [` then each batch of the database
 * cursor as it arrives, waiting while the client has not read what was sent, and stopping
 * (the cursor's transaction ends) when the client goes away.
 */
function streamSessions(
  sessions: SessionService,
  filter: SessionFilter,
  paging: Paging,
  reply: FastifyReply,
): Readable {
  let wake: (() => void) | undefined;
  const out = new Readable({
    read() {
      wake?.();
      wake = undefined;
    },
    destroy(err, done) {
      wake?.();
      wake = undefined;
      done(err);
    },
  });
  let first = true;
  out.push('{"sessions":[');
  sessions
    .stream(filter, paging, async (rows) => {
      if (out.destroyed) return false;
      let chunk = "";
      for (const row of rows) {
        chunk += (first ? "" : ",") + JSON.stringify(sessionJson(row));
        first = false;
      }
      if (!out.push(chunk)) await new Promise<void>((resolve) => (wake = resolve));
      return !out.destroyed;
    })
    .then(
      () => {
        if (!out.destroyed) out.push("]}") && out.push(null);
        else out.push(null);
      },
      (err) => {
        // Headers are gone: the client sees a cut answer (invalid JSON), and the log says why.
        reply.log.error({ err }, "streaming GET /sessions/ failed");
        out.destroy(err);
      },
    );
  return out;
}

async function listSessions(
  sessions: SessionService,
  maxPage: number,
  req: FastifyRequest,
  reply: FastifyReply,
) {
  const { filter, plain } = sessionQuery(req.query as Record<string, unknown>, true);
  const paging = parsePaging(plain, { sortKeys: SESSION_SORTS, defaultDir: "desc", maxPage });
  if (paging.limit === undefined && paging.marker === undefined) {
    reply.type("application/json; charset=utf-8");
    return reply.send(streamSessions(sessions, filter, paging, reply));
  }
  const rows = await sessions.page(filter, {
    ...paging,
    limit: paging.limit === undefined ? undefined : paging.limit + 1,
  });
  const more = paging.limit !== undefined && rows.length > paging.limit;
  const page = more ? rows.slice(0, paging.limit) : rows;
  const links = pageLinks(req, reply, paging, more ? page[page.length - 1].id : undefined);
  return { sessions: page.map(sessionJson), ...(links ? { sessions_links: links } : {}) };
}

const tags = ["sessions"];

/** An ISO 8601 time; no offset means UTC, as the API writes its own timestamps. */
function isoTime(raw: string, name: string): Date {
  const at = new Date(/[zZ]|[+-]\d\d:?\d\d$/.test(raw) ? raw : `${raw}Z`);
  if (!/^\d{4}-\d\d-\d\d/.test(raw) || Number.isNaN(at.getTime()))
    throw badRequest(`${name} must be an ISO 8601 time`);
  return at;
}
const NullableInput = (description: string) =>
  T.Optional(T.Union([T.String({ maxLength: 255 }), T.Null()], { description }));

export const sessionRoutes: AdminRoutes = (app, { core, config }) => {
  app.get(
    "/sessions",
    {
      schema: {
        tags,
        summary: "List sessions",
        description:
          "Newest first. Filters: user_id, user_name, instance_id (with modifiers), instance_name, project_id, connection_type, last (only the latest session of each instance), created_at and closed_at ranges (__gt, __gte, __lt, __lte). Pages: limit, marker, sort_key, sort_dir; a next page is in the Link header (and sessions_links). Without limit (and admin.maxPageSize 0) every session, streamed.",
        querystring: T.Object(
          { ...FilterQuery.properties, ...pagingQuery("sessions", "session_id", SESSION_SORTS, "desc") },
          { additionalProperties: true },
        ),
        response: {
          200: T.Object(
            { sessions: T.Array(SessionBody), sessions_links: PageLinks },
            { example: { sessions: [sessionExample] } },
          ),
          ...errors(400),
        },
      },
    },
    (req, reply) => listSessions(core.sessions, config.admin.maxPageSize, req, reply),
  );

  app.get(
    "/sessions/count",
    {
      schema: {
        tags,
        summary: "Count sessions",
        description: "The number of sessions the same filters as the list select.",
        querystring: FilterQuery,
        response: { 200: T.Object({ count: T.Integer() }, { example: { count: 5 } }), ...errors(400) },
      },
    },
    async (req) => ({ count: await core.sessions.count(sessionFilter(req.query)) }),
  );

  app.post(
    "/sessions",
    {
      config: { access: "user" },
      schema: {
        tags,
        summary: "Record a session",
        description:
          "The user is the token's. An admin token records a session on any instance; another token only on an instance assigned to its user, directly or through a group (else 403).",
        body: T.Object(
          {
            session: T.Object({
              instance_id: Id("Instance id."),
              conn_type: NullableInput("Connection type: web, rsclient, rdp, vnc, spice, ssh."),
              client_ip: NullableInput("Client IP address."),
              client_os: NullableInput("Client operating system."),
              client_info: NullableInput("Client information."),
            }),
          },
          {
            examples: [
              { session: { instance_id: "8735df50-6e08-462e-b091-1552f8588fd4", conn_type: "web" } },
            ],
          },
        ),
        response: {
          200: T.Object({ session: SessionBody }, { example: { session: sessionExample } }),
          ...errors(400, 404),
        },
      },
    },
    async (req) => {
      const caller = callerOf(req);
      const isAdmin = (await core.scopes.reachOf(caller)).kind === "cloud";
      return { session: sessionJson(await core.sessions.create(req.body.session, caller, isAdmin)) };
    },
  );

  app.put(
    "/sessions/:session_id",
    {
      config: { access: "user" },
      schema: {
        tags,
        summary: "Close a session, or report on it (extension)",
        description:
          "Sets closed_at (ISO 8601; default now) and removes the client rules the session opened. " +
          "With active_at or disconnected_at (and no closed_at) it closes nothing: it reports the session's last " +
          "activity, or that its client disconnected (null: reconnected), for the pool's session policies " +
          "(409 on a closed session). An admin token closes any session; another token only its own user's (else 404).",
        params: T.Object({ session_id: Id("Session id.") }),
        body: T.Optional(
          T.Object(
            {
              session: T.Optional(
                T.Object({
                  closed_at: T.Optional(T.Union([T.String(), T.Null()])),
                  active_at: T.Optional(
                    T.String({ description: "Last activity (ISO 8601): a report, not a close." }),
                  ),
                  disconnected_at: T.Optional(
                    T.Union([T.String(), T.Null()], {
                      description: "Disconnected at (ISO 8601), or null: reconnected. A report, not a close.",
                    }),
                  ),
                }),
              ),
            },
            {
              examples: [
                { session: { closed_at: "2018-10-31T13:40:00" } },
                { session: { active_at: "2018-10-31T13:20:00" } },
                { session: { disconnected_at: "2018-10-31T13:25:00" } },
              ],
            },
          ),
        ),
        response: {
          200: T.Object({ session: SessionBody }, { example: { session: sessionExample } }),
          ...errors(400, 404, 409),
        },
      },
    },
    async (req) => {
      const body = req.body?.session;
      const raw = body?.closed_at;
      const caller = callerOf(req);
      const isAdmin = (await core.scopes.reachOf(caller)).kind === "cloud";
      if (raw === undefined && (body?.active_at !== undefined || body?.disconnected_at !== undefined)) {
        const report = {
          activeAt: body.active_at !== undefined ? isoTime(body.active_at, "active_at") : undefined,
          disconnectedAt:
            body.disconnected_at === undefined
              ? undefined
              : body.disconnected_at === null
                ? null
                : isoTime(body.disconnected_at, "disconnected_at"),
        };
        return {
          session: sessionJson(await core.sessions.report(req.params.session_id, report, caller, isAdmin)),
        };
      }
      const at = raw != null ? isoTime(raw, "closed_at") : undefined;
      return { session: sessionJson(await core.sessions.close(req.params.session_id, at, caller, isAdmin)) };
    },
  );
};
