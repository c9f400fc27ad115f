// POST /v1/auth/tokens (extension): the dashboard's sign-in. The browser page calls only the
// admin API, so the API itself trades a user name and password (and a one-time code when
// Keystone's MFA rules ask for one), or a token pasted by the operator, for a Keystone token,
// and refuses it unless it carries an admin role (core.dashboard.signIn). No token is needed
// to call it (`access: "public"`), so the login rate limits guard it here, as the broker's do.
import { Type as T } from "@sinclair/typebox";
import type { SignInOutcome } from "../core/dashboard-signin.ts";
import { envelope } from "../http/errors.ts";
import type { AdminRoutes } from "./app.ts";
import { ErrorBody } from "./tasks.ts";
import { isoUtc } from "./wire.ts";

const Text = (description: string) => T.String({ minLength: 1, maxLength: 255, description });

const SignInBody = T.Object(
  {
    user: T.Optional(Text("User name.")),
    password: T.Optional(T.String({ minLength: 1, maxLength: 4096, description: "Password." })),
    domain: T.Optional(Text("The user's domain name (default Default).")),
    otp: T.Optional(
      T.String({ pattern: "^[0-9]{6,8}$", description: "One-time code, when Keystone asks for it." }),
    ),
    project: T.Optional(Text("Project to scope the token to (default: the user's default project).")),
    project_domain: T.Optional(Text("The project's domain name (default: the user's domain).")),
    token: T.Optional(T.String({ minLength: 1, maxLength: 8192, description: "A Keystone token instead." })),
  },
  {
    additionalProperties: false,
    example: { user: "admin", password: "secret", domain: "Default" },
  },
);

const SignedIn = T.Object(
  {
    token: T.Object({
      id: T.String({ description: "The Keystone token: send it as X-Auth-Token." }),
      expires_at: T.String({ description: "When Keystone expires it (UTC)." }),
      user: T.Object({ id: T.String(), name: T.String(), domain_id: T.String(), domain_name: T.String() }),
      project: T.Union([T.Object({ id: T.String(), name: T.String() }), T.Null()]),
      roles: T.Array(T.String()),
    }),
  },
  { description: "Signed in." },
);

const Refused = T.Object(
  {
    error: T.Object({
      code: T.Integer(),
      title: T.String(),
      message: T.String(),
      otp_required: T.Optional(T.Boolean({ description: "true: send the request again with `otp`." })),
    }),
  },
  { description: "Refused" },
);

function signedIn({ token, info }: Extract<SignInOutcome, { kind: "ok" }>) {
  return {
    token: {
      id: token,
      expires_at: isoUtc(info.expiresAt) as string,
      user: {
        id: info.userId,
        name: info.userName,
        domain_id: info.userDomainId,
        domain_name: info.userDomainName,
      },
      project: info.projectId ? { id: info.projectId, name: info.projectName ?? info.projectId } : null,
      roles: info.roles.map((r) => r.name),
    },
  };
}

export const authTokenRoutes: AdminRoutes = (app, { core, throttle }) => {
  app.post(
    "/auth/tokens",
    {
      config: { access: "public" },
      schema: {
        tags: ["dashboard"],
        summary: "Sign in (extension)",
        description:
          "Trades user/password/domain (and `otp` when Keystone asks for a second factor) or a `token` " +
          "for a Keystone token with an admin role. 401 for wrong credentials (with `otp_required` when " +
          "a one-time code is needed), 403 for a user without an admin role.",
        body: SignInBody,
        response: {
          201: SignedIn,
          400: ErrorBody,
          401: Refused,
          403: ErrorBody,
          429: ErrorBody,
          503: ErrorBody,
        },
      },
    },
    async (req, reply) => {
      const b = req.body;
      // The broker's login limits apply here too (per address and per user name, or per address
      // for tokens), checked before Keystone is asked, counted on each refused attempt.
      const limits = !throttle
        ? []
        : b.token !== undefined
          ? throttle.tokenLimits(req.ip)
          : throttle.loginLimits(req.ip, b.user, b.domain ?? "Default");
      const wait = throttle ? await throttle.refusal(limits) : undefined;
      if (wait !== undefined)
        return reply
          .code(429)
          .header("Retry-After", String(wait))
          .send(
            envelope(429, "Too Many Requests", `Too many failed sign-ins; try again in ${wait} seconds.`),
          );
      reply.header("Cache-Control", "no-store");
      const outcome = await core.dashboard.signIn.signIn({
        user: b.user,
        password: b.password,
        domain: b.domain,
        otp: b.otp,
        project: b.project,
        projectDomain: b.project_domain,
        token: b.token,
      });
      switch (outcome.kind) {
        case "ok":
          return reply.code(201).send(signedIn(outcome));
        case "otp_required":
          return reply
            .code(401)
            .send({ error: { ...envelope(401, "Unauthorized", outcome.message).error, otp_required: true } });
        case "invalid_credentials":
          await throttle?.failed(limits);
          return reply.code(401).send(envelope(401, "Unauthorized", outcome.message));
      }
    },
  );
};
