// The dashboard's sign-in: a Keystone token for an operator, by password (completing
// Keystone's MFA receipt with a one-time code, as the broker does) or by a token the operator
// already holds, accepted only when it carries one of the admin roles, since every admin API
// route would refuse it otherwise. Keystone is reached through the OperatorKeystone port
// (src/cloud/keystone-signin.ts adapts the client). A refused credential is an outcome (the
// admin API answers it 401 and counts it for the rate limits); a user without an admin role
// is `forbidden`, Keystone out of reach `unavailable`, a bad combination `invalid`.
import type { AuthOutcome, AuthScope, TokenInfo } from "../cloud/keystone.ts";
import { forbidden, invalid, unavailable } from "./errors.ts";
import type { AdminScopes } from "./scope.ts";
import { callerFromToken } from "./token-validator.ts";

/** What the sign-in needs from Keystone. Keystone out of reach is the outcome `unavailable`. */
export interface OperatorKeystone {
  password(input: {
    user: string;
    domain: string;
    password: string;
    scope?: AuthScope;
  }): Promise<AuthOutcome>;
  /** Continues an MFA receipt with a one-time code. */
  totp(input: {
    user: string;
    domain: string;
    passcode: string;
    receipt: string;
    scope?: AuthScope;
  }): Promise<AuthOutcome>;
  /** The token's details, `invalid_credentials` when Keystone does not accept it. */
  validate(token: string): Promise<AuthOutcome>;
}

export interface SignInRequest {
  user?: string;
  password?: string;
  /** The user's domain name (default Default). */
  domain?: string;
  otp?: string;
  /** The project to scope the token to; none gives the user's default project. */
  project?: string;
  projectDomain?: string;
  /** A token instead of a user name and password. */
  token?: string;
}

export type SignInOutcome =
  | { kind: "ok"; token: string; info: TokenInfo }
  | { kind: "invalid_credentials"; message: string }
  | { kind: "otp_required"; message: string };

export class DashboardSignIn {
  constructor(
    private readonly keystone: OperatorKeystone,
    private readonly adminRoles: readonly string[],
    private readonly scopes: Pick<AdminScopes, "reachOf" | "cloudOnly">,
  ) {}

  async signIn(r: SignInRequest): Promise<SignInOutcome> {
    if (r.token !== undefined) {
      if (r.user !== undefined || r.password !== undefined)
        throw invalid("Send either token or user and password, not both.");
      return this.withToken(r.token);
    }
    if (r.user === undefined || r.password === undefined)
      throw invalid("user and password are required (or token).");
    return this.withPassword(r.user, r.password, r);
  }

  private async withPassword(userName: string, password: string, r: SignInRequest): Promise<SignInOutcome> {
    const user = userName;
    const domain = r.domain ?? "Default";
    const scope: AuthScope | undefined = r.project
      ? { projectName: r.project, projectDomainName: r.projectDomain ?? domain }
      : undefined;
    let outcome = await this.keystone.password({ user, domain, password, scope });
    if (outcome.kind === "mfa_required") {
      if (!r.otp)
        return {
          kind: "otp_required",
          message: "Keystone asks for a second factor: enter the one-time code.",
        };
      outcome = await this.keystone.totp({ user, domain, passcode: r.otp, receipt: outcome.receipt, scope });
    }
    switch (outcome.kind) {
      case "ok":
        return this.admitted(outcome.token, outcome.info);
      case "mfa_required":
        return { kind: "invalid_credentials", message: "Keystone wants more methods than a one-time code." };
      case "unavailable":
        throw unavailable(`Keystone cannot be reached: ${outcome.message}`);
      case "password_expired":
        return { kind: "invalid_credentials", message: "The password has expired: change it first." };
      case "user_disabled":
        return { kind: "invalid_credentials", message: "The user is disabled." };
      default:
        // Unknown user, unknown domain and wrong password alike: say nothing more to a guesser.
        return {
          kind: "invalid_credentials",
          message: "Invalid user name, password, domain or one-time code.",
        };
    }
  }

  private async withToken(token: string): Promise<SignInOutcome> {
    const outcome = await this.keystone.validate(token);
    if (outcome.kind === "unavailable") throw unavailable(`Keystone cannot be reached: ${outcome.message}`);
    if (outcome.kind !== "ok")
      return { kind: "invalid_credentials", message: "Keystone does not accept the token (expired?)." };
    return this.admitted(token, outcome.info);
  }

  private async admitted(token: string, info: TokenInfo): Promise<SignInOutcome> {
    const roles = info.roles.map((r) => r.name);
    if (!roles.some((r) => this.adminRoles.includes(r))) {
      const where = info.projectName ? `on project ${info.projectName}` : "(the token has no project scope)";
      throw forbidden(
        `User ${info.userName} has none of the admin roles (${this.adminRoles.join(", ")}) ${where}.`,
      );
    }
    // The dashboard shows the whole cloud (servers, tasks, activity): cloud admins only.
    if ((await this.scopes.reachOf(callerFromToken(info))).kind !== "cloud")
      throw forbidden(`The dashboard is for cloud admins. ${this.scopes.cloudOnly()}`);
    return { kind: "ok", token, info };
  }
}
