// Who is asking for a desktop: request-vm, get-projects and get-vm authenticate here against
// Keystone, by password (completing Keystone's MFA receipt with the user's OTP) or by token,
// and every Keystone answer becomes a broker code: 6, 7, 15, 16, 21, 24, 27.
import { isCloudError } from "../cloud/http.ts";
import type { AuthOutcome, KeystoneClient, TokenInfo } from "../cloud/keystone.ts";
import { BrokerCode, BrokerError, keystoneUnavailable } from "./broker-error.ts";
import type { Caller } from "./identity.ts";
import { callerFromToken } from "./token-validator.ts";

export interface PasswordCredentials {
  user: string;
  password: string;
  userDomainName: string;
  otp?: string;
}

export interface BrokerIdentity {
  token: string;
  userId: string;
  userName: string;
  domainId: string;
  domainName: string;
  passwordExpiresAt: Date | null;
  /** The token's caller as token validation would answer it (TokenValidator.remember). */
  caller?: Caller;
}

export interface PasswordWarning {
  code: typeof BrokerCode.PasswordExpiring | typeof BrokerCode.AuthenticationsLimited;
  data: { seconds: number } | { attempts: number };
}

function identityOf(token: string, info: TokenInfo): BrokerIdentity {
  return {
    token,
    userId: info.userId,
    userName: info.userName,
    domainId: info.userDomainId,
    domainName: info.userDomainName,
    passwordExpiresAt: info.passwordExpiresAt,
    caller: callerFromToken(info),
  };
}

export class BrokerAuth {
  constructor(
    private readonly keystone: KeystoneClient,
    private readonly warningWindowSeconds: number,
  ) {}

  async withPassword(c: PasswordCredentials): Promise<BrokerIdentity> {
    const user = { username: c.user, userDomainName: c.userDomainName };
    let outcome = await this.guard(() =>
      // Unscoped: the project is chosen afterwards, and the client only shows the token back.
      this.keystone.authenticatePassword({ user, password: c.password, scope: "unscoped" }),
    );
    if (outcome.kind === "mfa_required") {
      if (!c.otp)
        throw new BrokerError(BrokerCode.OtpRequired, {}, "Keystone requires a second factor (TOTP)");
      outcome = await this.guard(() =>
        this.keystone.authenticateTotp({
          user,
          passcode: c.otp!,
          receipt: outcome.kind === "mfa_required" ? outcome.receipt : undefined,
          scope: "unscoped",
        }),
      );
      if (outcome.kind === "mfa_required")
        throw new BrokerError(BrokerCode.OtpRequired, {}, "Keystone wants more methods than TOTP");
    }
    return identityOf(...this.accepted(outcome, c));
  }

  /**
   * Keystone accepts the user's current password: a token, an expired password (Keystone says
   * so only for the right one) or a second factor asked for (likewise) all prove it. Before the
   * Kerberos script runs: nobody changes a password they could not sign in with.
   */
  async provePassword(c: PasswordCredentials): Promise<void> {
    const outcome = await this.guard(() =>
      this.keystone.authenticatePassword({
        user: { username: c.user, userDomainName: c.userDomainName },
        password: c.password,
        scope: "unscoped",
      }),
    );
    if (outcome.kind === "password_expired" || outcome.kind === "mfa_required") return;
    this.accepted(outcome, c);
  }

  /** A token the client already holds: it must be valid, and it is handed back as it is. */
  async withToken(token: string): Promise<BrokerIdentity> {
    let info: TokenInfo | undefined;
    try {
      info = await this.keystone.validateToken(token);
    } catch (err) {
      if (isCloudError(err, "unavailable")) throw keystoneUnavailable(err.message);
      if (isCloudError(err, "bad_request") || isCloudError(err, "unauthorized")) info = undefined;
      else throw err;
    }
    if (!info) throw new BrokerError(BrokerCode.TokenInvalid, {}, "Keystone does not accept the token");
    return identityOf(token, info);
  }

  /** The 19 warning when the password expires within the configured window. */
  warning(identity: BrokerIdentity, now = Date.now()): PasswordWarning | undefined {
    if (!identity.passwordExpiresAt) return undefined;
    const seconds = Math.floor((identity.passwordExpiresAt.getTime() - now) / 1000);
    if (seconds < 0 || seconds > this.warningWindowSeconds) return undefined;
    return { code: BrokerCode.PasswordExpiring, data: { seconds } };
  }

  private async guard(call: () => Promise<AuthOutcome>): Promise<AuthOutcome> {
    try {
      return await call();
    } catch (err) {
      if (isCloudError(err, "unavailable")) return { kind: "unavailable", message: err.message };
      throw err;
    }
  }

  private accepted(outcome: AuthOutcome, c: PasswordCredentials): [string, TokenInfo] {
    switch (outcome.kind) {
      case "ok":
        return [outcome.token, outcome.info];
      case "invalid_credentials":
      case "user_disabled":
        throw new BrokerError(
          BrokerCode.AuthenticationFailed,
          {},
          `Keystone refused the credentials (${outcome.kind})`,
        );
      case "password_expired":
        throw new BrokerError(BrokerCode.PasswordExpired, {}, "the password has expired");
      case "domain_not_found":
        throw new BrokerError(BrokerCode.DomainNotFound, { domain_name: c.userDomainName });
      case "user_not_found":
        throw new BrokerError(BrokerCode.UserNotFound, { user_name: c.user, domain_name: c.userDomainName });
      case "mfa_required":
        throw new BrokerError(BrokerCode.OtpRequired);
      case "unavailable":
        throw keystoneUnavailable(outcome.message);
    }
  }
}
