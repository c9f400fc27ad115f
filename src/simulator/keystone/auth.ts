// POST/GET/HEAD/DELETE /v3/auth/tokens and the /v3/auth/* listings: password, token and TOTP
// methods, MFA rules answered with an auth receipt, and project/domain/system/unscoped scopes.
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { authenticator } from "otplib";
import { effectiveRoleIds, projectIdsOf } from "./assignments.ts";
import { renderCatalog } from "./catalog.ts";
import { type Keystone, requireObject } from "./core.ts";
import { badRequest, forbidden, KsError, unauthorized } from "./errors.ts";
import { checkPassword, isLocked, passwordExpired, recordFailure } from "./passwords.ts";
import { callerToken, isAdmin } from "./policy.ts";
import { renderDomain, renderProject } from "./render.ts";
import { ksTime, type TokenRec, type UserRec } from "./state.ts";
import {
  issueReceipt,
  issueToken,
  renderToken,
  resolveToken,
  revokeToken,
  type TokenContext,
} from "./tokens.ts";

export const RECEIPT_HEADER = "Openstack-Auth-Receipt";
const SUPPORTED_METHODS = ["password", "token", "totp"];

// Keystone [totp] included_previous_windows = 1: the current and the previous 30 s window.
const totp = authenticator.clone({ window: [1, 0] });

/** Finds the user an auth payload names (id, or name + domain) as an enabled user in an enabled domain. */
function lookupUser(ks: Keystone, ref: unknown): UserRec {
  if (!ref || typeof ref !== "object") throw badRequest("'user' is a required property");
  const { id, name, domain } = ref as { id?: unknown; name?: unknown; domain?: unknown };
  let user: UserRec | undefined;
  if (typeof id === "string") user = ks.state.users[id];
  else if (typeof name === "string") {
    if (!domain)
      throw badRequest("Expecting to find domain in user. The server could not comply with the request.");
    const d = ks.domainRef(domain);
    user = d ? ks.userByName(d.id, name) : undefined;
  } else throw badRequest("Expecting to find id or name in user.");
  // Unknown user or domain and disabled accounts all look alike from outside (Keystone hides them).
  if (!user?.enabled || !ks.state.domains[user.domainId]?.enabled) throw unauthorized();
  return user;
}

function passwordMethod(ks: Keystone, payload: Record<string, any>): UserRec {
  const user = lookupUser(ks, payload.user);
  // Keystone hides a lockout behind the plain 401 of a wrong password (keystone/notifications.py).
  if (isLocked(ks, user)) throw unauthorized();
  if (!checkPassword(user, payload.user.password)) {
    recordFailure(ks, user);
    throw unauthorized();
  }
  if (passwordExpired(user))
    throw unauthorized(`The password is expired and needs to be changed for user: ${user.id}.`);
  if (user.failedAuthCount > 0) {
    user.failedAuthCount = 0;
    user.failedAuthAt = undefined;
    ks.touch();
  }
  return user;
}

/** Keystone's TOTP library refuses keys under 128 bits: such a credential never authenticates. */
const strongEnough = (base32: string) => Math.floor((base32.replace(/=+$/, "").length * 5) / 8) >= 16;

function totpMethod(ks: Keystone, payload: Record<string, any>): UserRec {
  const user = lookupUser(ks, payload.user);
  const passcode = payload.user.passcode;
  const ok =
    typeof passcode === "string" &&
    Object.values(ks.state.credentials).some(
      (c) =>
        c.userId === user.id && c.type === "totp" && strongEnough(c.blob) && totp.check(passcode, c.blob),
    );
  if (!ok) throw unauthorized();
  return user;
}

/** MFA rules that apply: Keystone enforces them unless multi_factor_auth_enabled is false. */
function mfaRules(user: UserRec): string[][] {
  if (user.options.multi_factor_auth_enabled === false) return [];
  const rules = user.options.multi_factor_auth_rules;
  if (!Array.isArray(rules)) return [];
  return rules.filter(
    (r): r is string[] =>
      Array.isArray(r) &&
      r.length > 0 &&
      r.every((m) => typeof m === "string" && SUPPORTED_METHODS.includes(m)),
  );
}

interface Authenticated {
  user: UserRec;
  methods: string[];
  parent?: TokenRec;
}

function authenticate(ks: Keystone, identity: Record<string, any>, receiptId?: string): Authenticated {
  const methods = identity.methods;
  if (!Array.isArray(methods) || methods.length === 0 || !methods.every((m) => typeof m === "string")) {
    throw badRequest(
      "Invalid input for field 'identity/methods': 'methods' must be a non-empty list of strings.",
    );
  }
  let user: UserRec | undefined;
  let parent: TokenRec | undefined;
  const used = new Set<string>();
  for (const method of methods as string[]) {
    if (!SUPPORTED_METHODS.includes(method))
      throw unauthorized("Attempted to authenticate with an unsupported method.");
    const payload = identity[method];
    if (!payload || typeof payload !== "object") throw badRequest(`'${method}' is a required property`);
    let who: UserRec;
    if (method === "password") who = passwordMethod(ks, payload);
    else if (method === "totp") who = totpMethod(ks, payload);
    else {
      const ctx = typeof payload.id === "string" ? resolveToken(ks, payload.id) : undefined;
      if (!ctx) throw unauthorized();
      who = ctx.user;
      parent = ctx.rec;
      for (const m of ctx.rec.methods) used.add(m);
    }
    if (user && user.id !== who.id) throw unauthorized();
    user = who;
    used.add(method);
  }
  if (!user) throw unauthorized();
  if (receiptId !== undefined) {
    const receipt = ks.state.receipts[receiptId];
    if (!receipt || Date.parse(receipt.expiresAt) <= Date.now() || receipt.userId !== user.id)
      throw unauthorized();
    for (const m of receipt.methods) used.add(m);
  }
  const rules = mfaRules(user);
  if (rules.length > 0 && !rules.some((rule) => rule.every((m) => used.has(m)))) {
    throw new MfaRequired(user, [...used], rules);
  }
  // A rescoped token lists "token" and the methods of the token it came from.
  return { user, methods: [...used], parent };
}

class MfaRequired extends Error {
  constructor(
    readonly user: UserRec,
    readonly methods: string[],
    readonly rules: string[][],
  ) {
    super("Insufficient auth methods");
  }
}

type Scope = { projectId?: string; domainId?: string; system?: boolean };

function resolveScope(ks: Keystone, user: UserRec, scope: unknown): Scope {
  if (scope === "unscoped") return {};
  if (scope === undefined || scope === null) {
    // Without a scope Keystone uses the default project, silently falling back to unscoped.
    const p = user.defaultProjectId ? ks.state.projects[user.defaultProjectId] : undefined;
    if (p?.enabled && effectiveRoleIds(ks, user.id, "project", p.id).length > 0) return { projectId: p.id };
    return {};
  }
  if (typeof scope !== "object") throw badRequest("Invalid input for field 'scope'.");
  const s = scope as Record<string, any>;
  if (s.project) {
    const { id, name, domain } = s.project as Record<string, unknown>;
    let project = typeof id === "string" ? ks.state.projects[id] : undefined;
    if (typeof id !== "string") {
      if (typeof name !== "string" || !domain) throw badRequest("Expecting to find domain in project.");
      const d = ks.domainRef(domain);
      project = d ? ks.projectByName(d.id, name) : undefined;
    }
    if (!project?.enabled || !ks.state.domains[project.domainId]?.enabled) throw unauthorized();
    if (effectiveRoleIds(ks, user.id, "project", project.id).length === 0) throw unauthorized();
    return { projectId: project.id };
  }
  if (s.domain) {
    const d = ks.domainRef(s.domain);
    if (!d?.enabled || effectiveRoleIds(ks, user.id, "domain", d.id).length === 0) throw unauthorized();
    return { domainId: d.id };
  }
  if (s.system) {
    // Keystone has one system: `{"system": {"all": true}}`; anything else is refused.
    if (typeof s.system !== "object" || s.system.all !== true)
      throw badRequest("Invalid input for field 'scope/system'.");
    if (effectiveRoleIds(ks, user.id, "system", "all").length === 0) throw unauthorized();
    return { system: true };
  }
  // Trusts are not simulated.
  throw unauthorized();
}

function hasFlag(req: FastifyRequest, name: string) {
  return Object.hasOwn((req.query as Record<string, unknown>) ?? {}, name);
}

function subjectToken(ks: Keystone, req: FastifyRequest): TokenContext {
  const raw = req.headers["x-subject-token"];
  if (typeof raw !== "string" || !raw)
    throw badRequest("Expecting to find X-Subject-Token in the request headers.");
  const ctx = resolveToken(ks, raw);
  if (!ctx) throw new KsError(404, "Failed to validate token");
  return ctx;
}

/** Keystone lets admins, the service role and the token's own user check a token. */
function mayInspect(caller: TokenContext, subject: TokenContext) {
  return caller.user.id === subject.user.id || caller.roles.some((r) => r.name === "service");
}

export function registerAuthRoutes(app: FastifyInstance, ks: Keystone) {
  app.post("/v3/auth/tokens", async (req, reply) => {
    const auth = requireObject(req.body, "auth");
    const identity = requireObject(auth, "identity");
    const receiptHeader = req.headers[RECEIPT_HEADER.toLowerCase()];
    let who: Authenticated;
    try {
      who = authenticate(ks, identity, typeof receiptHeader === "string" ? receiptHeader : undefined);
    } catch (err) {
      if (err instanceof MfaRequired) return sendReceipt(ks, reply, err);
      throw err;
    }
    const scope = resolveScope(ks, who.user, auth.scope);
    const id = issueToken(ks, { userId: who.user.id, methods: who.methods, ...scope, parent: who.parent });
    const ctx = resolveToken(ks, id, true)!;
    return reply
      .code(201)
      .header("X-Subject-Token", id)
      .send(renderToken(ks, ctx, !hasFlag(req, "nocatalog")));
  });

  const inspect = (req: FastifyRequest) => {
    const caller = callerToken(ks, req);
    const subject = subjectToken(ks, req);
    if (!isAdmin(caller) && !mayInspect(caller, subject)) throw forbidden("identity:validate_token");
    return subject;
  };

  // HEAD before GET: Fastify would otherwise generate its own HEAD route from the GET.
  app.head("/v3/auth/tokens", async (req, reply) => {
    const subject = inspect(req);
    return reply.code(200).header("X-Subject-Token", subject.id).send();
  });

  app.get("/v3/auth/tokens", async (req, reply) => {
    const subject = inspect(req);
    return reply
      .header("X-Subject-Token", subject.id)
      .send(renderToken(ks, subject, !hasFlag(req, "nocatalog")));
  });

  app.delete("/v3/auth/tokens", async (req, reply) => {
    const caller = callerToken(ks, req);
    const subject = subjectToken(ks, req);
    if (!isAdmin(caller) && !mayInspect(caller, subject)) throw forbidden("identity:revoke_token");
    revokeToken(ks, subject.id);
    return reply.code(204).send();
  });

  app.get("/v3/auth/projects", async (req) => {
    const caller = callerToken(ks, req);
    const projects = projectIdsOf(ks, caller.user.id)
      .map((id) => ks.state.projects[id])
      .filter((p) => p.enabled && ks.state.domains[p.domainId]?.enabled);
    return { projects: projects.map((p) => renderProject(ks, p)), links: ks.listLinks("/auth/projects") };
  });

  app.get("/v3/auth/domains", async (req) => {
    const caller = callerToken(ks, req);
    const domains = Object.values(ks.state.domains).filter(
      (d) => d.enabled && effectiveRoleIds(ks, caller.user.id, "domain", d.id).length > 0,
    );
    return { domains: domains.map((d) => renderDomain(ks, d)), links: ks.listLinks("/auth/domains") };
  });

  app.get("/v3/auth/system", async (req) => {
    const caller = callerToken(ks, req);
    const has = effectiveRoleIds(ks, caller.user.id, "system", "all").length > 0;
    return { system: has ? [{ all: true }] : [], links: ks.listLinks("/auth/system") };
  });

  app.get("/v3/auth/catalog", async (req) => {
    const caller = callerToken(ks, req);
    if (!caller.project && !caller.domain && !caller.system) throw forbidden();
    return { catalog: renderCatalog(ks, caller.project?.id), links: ks.listLinks("/auth/catalog") };
  });
}

function sendReceipt(ks: Keystone, reply: FastifyReply, mfa: MfaRequired) {
  const id = issueReceipt(ks, mfa.user.id, mfa.methods);
  const rec = ks.state.receipts[id];
  const user = mfa.user;
  const domain = ks.state.domains[user.domainId];
  return reply
    .code(401)
    .header(RECEIPT_HEADER, id)
    .header("WWW-Authenticate", `Keystone uri="${ks.identityUrl()}"`)
    .type("application/json")
    .send({
      receipt: {
        methods: rec.methods,
        user: { id: user.id, name: user.name, domain: { id: domain.id, name: domain.name } },
        expires_at: ksTime(new Date(rec.expiresAt)),
        issued_at: ksTime(new Date(rec.issuedAt)),
      },
      required_auth_methods: mfa.rules,
    });
}
