// The dashboard's sign-in: a Keystone token for an operator, by password (completing
// Keystone's MFA receipt with a one-time code, as the broker does) or by a token the operator
// already holds, accepted only when it carries one of the admin roles, since every admin API
// route would refuse it otherwise. Outcomes, not HTTP: the route maps them to its envelope.
import { isCloudError } from "../cloud/http.ts";
import type { AuthOutcome, AuthScope, KeystoneClient, TokenInfo } from "../cloud/keystone.ts";

export interface SignInPassword {
  user: string;
  password: string;
  domain: string;
  otp?: string;
  /** The project to scope the token to; none gives the user's default project. */
  project?: string;
  projectDomain?: string;
}

export type SignInOutcome =
  | { kind: "ok"; token: string; info: TokenInfo }
  | { kind: "invalid_credentials"; message: string }
  | { kind: "otp_required"; message: string }
  | { kind: "not_admin"; message: string }
  | { kind: "unavailable"; message: string };

export class DashboardSignIn {
  constructor(
    private readonly keystone: Pick<
      KeystoneClient,
      "authenticatePassword" | "authenticateTotp" | "validateToken"
    >,
    private readonly adminRoles: readonly string[],
  ) {}

  async withPassword(c: SignInPassword): Promise<SignInOutcome> {
    const user = { username: c.user, userDomainName: c.domain };
    const scope: AuthScope | undefined = c.project
      ? { projectName: c.project, projectDomainName: c.projectDomain ?? c.domain }
      : undefined;
    let outcome = await this.guard(() =>
      this.keystone.authenticatePassword({ user, password: c.password, scope }),
    );
    if (outcome.kind === "mfa_required") {
      if (!c.otp)
        return {
          kind: "otp_required",
          message: "Keystone asks for a second factor: enter the one-time code.",
        };
      const receipt = outcome.receipt;
      outcome = await this.guard(() =>
        this.keystone.authenticateTotp({ user, passcode: c.otp as string, receipt, scope }),
      );
    }
    switch (outcome.kind) {
      case "ok":
        return this.admitted(outcome.token, outcome.info);
      case "mfa_required":
        return { kind: "invalid_credentials", message: "Keystone wants more methods than a one-time code." };
      case "unavailable":
        return { kind: "unavailable", message: `Keystone cannot be reached: ${outcome.message}` };
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

  async withToken(token: string): Promise<SignInOutcome> {
    let info: TokenInfo | undefined;
    try {
      info = await this.keystone.validateToken(token);
    } catch (err) {
      if (isCloudError(err, "unavailable"))
        return { kind: "unavailable", message: `Keystone cannot be reached: ${err.message}` };
      if (!isCloudError(err, "bad_request") && !isCloudError(err, "unauthorized")) throw err;
    }
    if (!info)
      return { kind: "invalid_credentials", message: "Keystone does not accept the token (expired?)." };
    return this.admitted(token, info);
  }

  private admitted(token: string, info: TokenInfo): SignInOutcome {
    const roles = info.roles.map((r) => r.name);
    if (!roles.some((r) => this.adminRoles.includes(r))) {
      const where = info.projectName ? `on project ${info.projectName}` : "(the token has no project scope)";
      return {
        kind: "not_admin",
        message: `User ${info.userName} has none of the admin roles (${this.adminRoles.join(", ")}) ${where}.`,
      };
    }
    return { kind: "ok", token, info };
  }

  private async guard(call: () => Promise<AuthOutcome>): Promise<AuthOutcome> {
    try {
      return await call();
    } catch (err) {
      if (isCloudError(err, "unavailable")) return { kind: "unavailable", message: err.message };
      throw err;
    }
  }
}
