// End-user authentication against Keystone, answered as outcomes the broker branches on.
// These calls carry the user's own secrets and no service token, and are never retried
// after a 401 (a retry would count as a second failed attempt towards the lockout).
import { CloudError, type HttpResponse, isCloudError, openstackErrorMessage, ServiceHttp } from "./http.ts";
import { ksDate, type TokenInfo, toTokenInfo } from "./keystone-types.ts";

export const RECEIPT_HEADER = "Openstack-Auth-Receipt";

/** Names a project or domain to scope a token to; none gives Keystone's default (or unscoped). */
export type AuthScope =
  | { projectId: string }
  | { projectName: string; projectDomainName?: string; projectDomainId?: string }
  | { domainId: string }
  | { domainName: string }
  /** Keystone's system scope (`{"system": {"all": true}}`): cloud-wide operations. */
  | { system: "all" }
  | "unscoped";

/** Names a user: by id, or by name in a domain (by name or id). */
export type UserRef =
  | { userId: string }
  | { username: string; userDomainName?: string; userDomainId?: string };

export type AuthFailure =
  /** Wrong password or passcode, or (Keystone does not say which) an unknown user or domain. */
  | { kind: "invalid_credentials" }
  | { kind: "domain_not_found"; domain: string }
  | { kind: "user_not_found"; user: string; domain: string }
  | { kind: "user_disabled"; userId?: string }
  | { kind: "password_expired"; userId: string }
  /** Keystone's MFA rules want more methods: continue with the receipt (e.g. TOTP). */
  | {
      kind: "mfa_required";
      receipt: string;
      requiredMethods: string[][];
      userId: string;
      expiresAt: Date | null;
    }
  | { kind: "unavailable"; message: string };

export type AuthOutcome = { kind: "ok"; token: string; info: TokenInfo } | AuthFailure;

export type PasswordChangeOutcome =
  | { kind: "ok" }
  /**
   * The original password is wrong, the user does not exist, or the account is locked out:
   * Keystone (Zed) answers a locked account with the same plain 401 as a wrong password.
   */
  | { kind: "wrong_password" }
  | { kind: "user_disabled"; userId: string }
  /** Complexity, history or minimum-age rule: Keystone's message says which. */
  | { kind: "policy_violation"; message: string }
  | { kind: "unavailable"; message: string };

function userBody(user: UserRef): Record<string, unknown> {
  if ("userId" in user) return { id: user.userId };
  const domain = user.userDomainId ? { id: user.userDomainId } : { name: user.userDomainName ?? "Default" };
  return { name: user.username, domain };
}

function scopeBody(scope: AuthScope | undefined): unknown {
  if (scope === undefined) return undefined;
  if (scope === "unscoped") return "unscoped";
  if ("projectId" in scope) return { project: { id: scope.projectId } };
  if ("projectName" in scope) {
    const domain = scope.projectDomainId
      ? { id: scope.projectDomainId }
      : { name: scope.projectDomainName ?? "Default" };
    return { project: { name: scope.projectName, domain } };
  }
  if ("system" in scope) return { system: { all: true } };
  if ("domainId" in scope) return { domain: { id: scope.domainId } };
  return { domain: { name: scope.domainName } };
}

/** Reads the named 401s Keystone lets through (others are one generic message). */
export function namedAuthFailure(status: number, headers: Headers, body: any): AuthFailure | undefined {
  if (status !== 401) return undefined;
  const receipt = headers.get(RECEIPT_HEADER);
  if (receipt) {
    return {
      kind: "mfa_required",
      receipt,
      requiredMethods: body?.required_auth_methods ?? [],
      userId: body?.receipt?.user?.id,
      expiresAt: ksDate(body?.receipt?.expires_at),
    };
  }
  const message = openstackErrorMessage(body) ?? "";
  const user = (re: RegExp) => message.match(re)?.[1];
  const expired = user(/password is expired and needs to be changed for user: ([^\s]+?)\.(\s|$)/);
  if (expired) return { kind: "password_expired", userId: expired };
  const disabled = user(/account is disabled for user: ([^\s]+?)\.(\s|$)/);
  if (disabled) return { kind: "user_disabled", userId: disabled };
  return undefined;
}

export class KeystoneAuth {
  constructor(readonly http: ServiceHttp) {}

  static forUrl(authUrl: string, timeoutMs: number, retries: number) {
    return new KeystoneAuth(
      new ServiceHttp({ service: "identity", endpoint: async () => authUrl, timeoutMs, retries }),
    );
  }

  /** POST /v3/auth/tokens with the given identity; 401s come back as failures, outages as "unavailable". */
  async issue(identity: Record<string, unknown>, scope?: AuthScope, receipt?: string): Promise<AuthOutcome> {
    let res: HttpResponse<any>;
    try {
      res = await this.http.request("POST", "/auth/tokens", {
        body: { auth: { identity, ...(scope === undefined ? {} : { scope: scopeBody(scope) }) } },
        query: { nocatalog: "" },
        headers: receipt ? { [RECEIPT_HEADER]: receipt } : undefined,
        // Safe to repeat on an outage: a 5xx consumed no attempt, and nothing is created but a token.
        idempotent: true,
        acceptStatus: [401],
      });
    } catch (err) {
      if (isCloudError(err, "unavailable")) return { kind: "unavailable", message: err.message };
      throw err;
    }
    if (res.status === 401)
      return namedAuthFailure(401, res.headers, res.body) ?? { kind: "invalid_credentials" };
    const token = res.headers.get("x-subject-token");
    if (!token) throw new CloudError("unavailable", "Keystone issued no token", "identity", res.status);
    return { kind: "ok", token, info: toTokenInfo(res.body) };
  }

  password(user: UserRef, password: string, scope?: AuthScope, passcode?: string) {
    const identity: Record<string, unknown> = {
      methods: passcode === undefined ? ["password"] : ["password", "totp"],
      password: { user: { ...userBody(user), password } },
    };
    if (passcode !== undefined) identity.totp = { user: { ...userBody(user), passcode } };
    return this.issue(identity, scope);
  }

  /** Completes an MFA receipt (or authenticates by TOTP alone) with a passcode. */
  totp(user: UserRef, passcode: string, scope?: AuthScope, receipt?: string) {
    return this.issue({ methods: ["totp"], totp: { user: { ...userBody(user), passcode } } }, scope, receipt);
  }

  token(token: string, scope?: AuthScope) {
    return this.issue({ methods: ["token"], token: { id: token } }, scope);
  }

  async changePassword(
    userId: string,
    originalPassword: string,
    newPassword: string,
  ): Promise<PasswordChangeOutcome> {
    let res: HttpResponse<any>;
    try {
      res = await this.http.request("POST", `/users/${encodeURIComponent(userId)}/password`, {
        body: { user: { original_password: originalPassword, password: newPassword } },
        idempotent: false,
        acceptStatus: [400, 401, 404],
      });
    } catch (err) {
      if (isCloudError(err, "unavailable")) return { kind: "unavailable", message: err.message };
      throw err;
    }
    if (res.status < 300) return { kind: "ok" };
    if (res.status === 400) {
      return { kind: "policy_violation", message: openstackErrorMessage(res.body) ?? "password rejected" };
    }
    const named = namedAuthFailure(401, res.headers, res.body);
    if (named?.kind === "user_disabled" && named.userId)
      return { kind: "user_disabled", userId: named.userId };
    return { kind: "wrong_password" };
  }
}
