// The core's OperatorKeystone port (src/core/dashboard-signin.ts) on the Keystone client: the
// dashboard's sign-in by password, one-time code or token, with Keystone out of reach
// answered as the outcome `unavailable` and a refused token as `invalid_credentials`.
import type { OperatorKeystone } from "../core/dashboard-signin.ts";
import { isCloudError } from "./http.ts";
import type { AuthOutcome, AuthScope, KeystoneClient } from "./keystone.ts";

export class KeystoneSignIn implements OperatorKeystone {
  constructor(
    private readonly keystone: Pick<
      KeystoneClient,
      "authenticatePassword" | "authenticateTotp" | "validateToken"
    >,
  ) {}

  password(input: {
    user: string;
    domain: string;
    password: string;
    scope?: AuthScope;
  }): Promise<AuthOutcome> {
    const user = { username: input.user, userDomainName: input.domain };
    return reachable(() =>
      this.keystone.authenticatePassword({ user, password: input.password, scope: input.scope }),
    );
  }

  totp(input: {
    user: string;
    domain: string;
    passcode: string;
    receipt: string;
    scope?: AuthScope;
  }): Promise<AuthOutcome> {
    const user = { username: input.user, userDomainName: input.domain };
    return reachable(() =>
      this.keystone.authenticateTotp({
        user,
        passcode: input.passcode,
        receipt: input.receipt,
        scope: input.scope,
      }),
    );
  }

  validate(token: string): Promise<AuthOutcome> {
    return reachable(async () => {
      try {
        const info = await this.keystone.validateToken(token);
        return info ? { kind: "ok", token, info } : { kind: "invalid_credentials" };
      } catch (err) {
        // A malformed or refused token is Keystone's no, not a failure.
        if (isCloudError(err, "bad_request") || isCloudError(err, "unauthorized"))
          return { kind: "invalid_credentials" };
        throw err;
      }
    });
  }
}

async function reachable(call: () => Promise<AuthOutcome>): Promise<AuthOutcome> {
  try {
    return await call();
  } catch (err) {
    if (isCloudError(err, "unavailable")) return { kind: "unavailable", message: err.message };
    throw err;
  }
}
