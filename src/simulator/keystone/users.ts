// /v3/users: CRUD with resource options (MFA rules, lockout and expiry exemptions), the
// self-service password change, and a user's groups and projects.
import type { FastifyInstance } from "fastify";
import { projectIdsOf } from "./assignments.ts";
import { type Keystone, matchesFilters, queryTrue, requireObject } from "./core.ts";
import { badRequest, conflict, KsError, notFound, unauthorized } from "./errors.ts";
import { checkPassword, isLocked, recordFailure, setPassword } from "./passwords.ts";
import { authorize } from "./policy.ts";
import { renderGroup, renderProject, renderUser } from "./render.ts";
import { newId, type UserRec } from "./state.ts";
import { revokeUserTokens } from "./tokens.ts";

type Params = { id: string };

const BOOL_OPTIONS = new Set([
  "ignore_change_password_upon_first_use",
  "ignore_password_expiry",
  "ignore_lockout_failure_attempts",
  "lock_password",
  "ignore_user_inactivity",
  "multi_factor_auth_enabled",
]);
const CORE_FIELDS = new Set([
  "id",
  "name",
  "domain_id",
  "enabled",
  "password",
  "default_project_id",
  "description",
  "options",
  "links",
  "password_expires_at",
]);

/** Merges resource options as Keystone does: null removes one, unknown names are refused. */
function mergeOptions(current: Record<string, unknown>, input: unknown): Record<string, unknown> {
  if (input === undefined) return current;
  if (!input || typeof input !== "object" || Array.isArray(input))
    throw badRequest("Invalid input for field 'options'.");
  const out = { ...current };
  for (const [name, value] of Object.entries(input)) {
    if (value === null) {
      delete out[name];
      continue;
    }
    if (BOOL_OPTIONS.has(name)) {
      if (typeof value !== "boolean")
        throw badRequest(`Invalid input for field 'options/${name}': expected a boolean.`);
    } else if (name === "multi_factor_auth_rules") {
      const ok =
        Array.isArray(value) &&
        value.every((r) => Array.isArray(r) && r.length > 0 && r.every((m) => typeof m === "string"));
      if (!ok) throw badRequest("Invalid input for field 'options/multi_factor_auth_rules'.");
    } else {
      throw badRequest(`Invalid input for field 'options': additional property '${name}' is not allowed.`);
    }
    out[name] = value;
  }
  return out;
}

function extraOf(body: Record<string, unknown>) {
  return Object.fromEntries(Object.entries(body).filter(([k]) => !CORE_FIELDS.has(k)));
}

const duplicate = (name: string, domainId: string) =>
  conflict("user", `Duplicate entry found with name ${name} at domain ID ${domainId}`);

/** Removes a user with everything that refers to it. */
export function deleteUserCascade(ks: Keystone, userId: string) {
  const s = ks.state;
  revokeUserTokens(ks, userId);
  delete s.users[userId];
  delete s.revokedBefore[userId];
  s.grants = s.grants.filter((g) => !(g.actor === "user" && g.actorId === userId));
  for (const [g, users] of Object.entries(s.members)) s.members[g] = users.filter((u) => u !== userId);
  for (const c of Object.values(s.credentials)) if (c.userId === userId) delete s.credentials[c.id];
  for (const [id, r] of Object.entries(s.receipts)) if (r.userId === userId) delete s.receipts[id];
}

export function createUser(ks: Keystone, body: Record<string, any>, defaultDomainId: string): UserRec {
  if (typeof body.name !== "string" || !body.name) throw badRequest("'name' is a required property");
  const domainId = typeof body.domain_id === "string" ? body.domain_id : defaultDomainId;
  if (!ks.state.domains[domainId]) throw notFound("domain", domainId);
  if (ks.userByName(domainId, body.name)) throw duplicate(body.name, domainId);
  const user: UserRec = {
    id: newId(),
    name: body.name,
    domainId,
    enabled: body.enabled !== false,
    defaultProjectId: typeof body.default_project_id === "string" ? body.default_project_id : undefined,
    description: typeof body.description === "string" ? body.description : undefined,
    extra: extraOf(body),
    options: mergeOptions({}, body.options),
    passwords: [],
    failedAuthCount: 0,
  };
  if (body.password !== undefined && body.password !== null) setPassword(ks, user, body.password, false);
  ks.state.users[user.id] = user;
  ks.touch();
  return user;
}

export function registerUserRoutes(app: FastifyInstance, ks: Keystone) {
  app.post("/v3/users", async (req, reply) => {
    const caller = authorize(ks, req, "create_user");
    const body = requireObject(req.body, "user");
    const user = createUser(ks, body, caller.project?.domainId ?? caller.domain?.id ?? "default");
    return reply.code(201).send({ user: renderUser(ks, user) });
  });

  app.get<{ Querystring: Record<string, string> }>("/v3/users", async (req) => {
    authorize(ks, req, "list_users");
    const q = req.query;
    const enabled = queryTrue(q.enabled);
    const users = Object.values(ks.state.users).filter(
      (u) =>
        matchesFilters(q, "name", u.name) &&
        (!q.domain_id || u.domainId === q.domain_id) &&
        (enabled === undefined || u.enabled === enabled),
    );
    return { users: users.map((u) => renderUser(ks, u)), links: ks.listLinks("/users") };
  });

  app.get<{ Params: Params }>("/v3/users/:id", async (req) => {
    authorize(ks, req, "get_user", (ctx) => ctx.user.id === req.params.id);
    return { user: renderUser(ks, ks.user(req.params.id)) };
  });

  app.patch<{ Params: Params }>("/v3/users/:id", async (req) => {
    authorize(ks, req, "update_user");
    const user = ks.user(req.params.id);
    const body = requireObject(req.body, "user");
    if (body.domain_id !== undefined && body.domain_id !== user.domainId) {
      throw badRequest("Update of `domain_id` is not allowed.");
    }
    if (typeof body.name === "string" && body.name !== user.name) {
      if (ks.userByName(user.domainId, body.name)) throw duplicate(body.name, user.domainId);
      user.name = body.name;
    }
    user.options = mergeOptions(user.options, body.options);
    if (body.password !== undefined) {
      setPassword(ks, user, body.password, false);
      revokeUserTokens(ks, user.id);
    }
    if (typeof body.enabled === "boolean") {
      // Enabling a user is how an administrator unlocks it after too many failures.
      if (body.enabled) {
        user.failedAuthCount = 0;
        user.failedAuthAt = undefined;
      } else revokeUserTokens(ks, user.id);
      user.enabled = body.enabled;
    }
    if (body.default_project_id !== undefined) user.defaultProjectId = body.default_project_id ?? undefined;
    if (typeof body.description === "string") user.description = body.description;
    user.extra = { ...user.extra, ...extraOf(body) };
    ks.touch();
    return { user: renderUser(ks, user) };
  });

  app.delete<{ Params: Params }>("/v3/users/:id", async (req, reply) => {
    authorize(ks, req, "delete_user");
    ks.user(req.params.id);
    deleteUserCascade(ks, req.params.id);
    ks.touch();
    return reply.code(204).send();
  });

  // Unenforced in Keystone: a user whose password expired has no token to present.
  app.post<{ Params: Params }>("/v3/users/:id/password", async (req, reply) => {
    const body = requireObject(req.body, "user");
    if (typeof body.original_password !== "string")
      throw badRequest("'original_password' is a required property");
    if (typeof body.password !== "string") throw badRequest("'password' is a required property");
    const user = ks.state.users[req.params.id];
    if (!user) throw unauthorized();
    if (isLocked(ks, user)) throw unauthorized();
    if (!checkPassword(user, body.original_password)) {
      recordFailure(ks, user);
      throw unauthorized();
    }
    if (!user.enabled) throw unauthorized(`The account is disabled for user: ${user.id}.`);
    if (user.options.lock_password === true) {
      throw new KsError(
        400,
        "You cannot change your password at this time due to password policy disallowing password changes. " +
          "Please contact your administrator to reset your password.",
      );
    }
    setPassword(ks, user, body.password, true);
    revokeUserTokens(ks, user.id);
    ks.touch();
    return reply.code(204).send();
  });

  app.get<{ Params: Params }>("/v3/users/:id/groups", async (req) => {
    authorize(ks, req, "list_groups_for_user", (ctx) => ctx.user.id === req.params.id);
    ks.user(req.params.id);
    const groups = ks.groupsOf(req.params.id).map((g) => ks.state.groups[g]);
    return {
      groups: groups.map((g) => renderGroup(ks, g)),
      links: ks.listLinks(`/users/${req.params.id}/groups`),
    };
  });

  app.get<{ Params: Params; Querystring: Record<string, string> }>("/v3/users/:id/projects", async (req) => {
    authorize(ks, req, "list_user_projects", (ctx) => ctx.user.id === req.params.id);
    ks.user(req.params.id);
    const enabled = queryTrue(req.query.enabled);
    const projects = projectIdsOf(ks, req.params.id)
      .map((id) => ks.state.projects[id])
      .filter(
        (p) =>
          (enabled === undefined || p.enabled === enabled) && (!req.query.name || p.name === req.query.name),
      );
    return {
      projects: projects.map((p) => renderProject(ks, p)),
      links: ks.listLinks(`/users/${req.params.id}/projects`),
    };
  });
}
