// change-password: through the operator's Kerberos script when kerberos.scriptPath names
// one, once Keystone accepted the current password (22 cannot run it or all slots stayed busy,
// 23 it refused), else through Keystone (15/16 unknown domain or user,
// 9 the password policy refused it, 21 Keystone unavailable).
import { BrokerCode, BrokerError, keystoneUnavailable } from "../broker-error.ts";
import type { Slots } from "../limited.ts";
import { type BrokerContext, directory } from "./context.ts";

export interface ChangePasswordInput {
  user: string;
  userDomainName: string;
  password: string;
  newPassword: string;
}

export async function changePassword(
  { deps, auth }: BrokerContext,
  input: ChangePasswordInput,
  scriptSlots: Slots,
): Promise<string> {
  const { config } = deps;
  const keystone = deps.cloud.keystone;
  if (config.kerberos.scriptPath) {
    // Only for a user Keystone knows, with their current password (6, or 7 is fine: an expired
    // password is what one changes), and never more scripts at once than kerberos.maxConcurrent.
    await auth.provePassword(input);
    const scriptPath = config.kerberos.scriptPath;
    const ran = await scriptSlots.run(config.kerberos.queueTimeoutSeconds * 1000, () =>
      deps.passwordScript.change(scriptPath, input),
    );
    if (!ran)
      throw new BrokerError(
        BrokerCode.KerberosScriptUnavailable,
        {},
        `kerberos script busy: ${config.kerberos.maxConcurrent} running, none finished within ${config.kerberos.queueTimeoutSeconds} s`,
      );
    const outcome = ran.value;
    if (outcome.kind === "unavailable")
      throw new BrokerError(BrokerCode.KerberosScriptUnavailable, {}, outcome.detail);
    if (outcome.kind === "failed") throw new BrokerError(BrokerCode.KerberosScriptFailed, {}, outcome.detail);
    return `Password successfully changed for user '${input.user}'`;
  }
  const domain = await directory(() => keystone.findDomainByName(input.userDomainName));
  if (!domain) throw new BrokerError(BrokerCode.DomainNotFound, { domain_name: input.userDomainName });
  const user = await directory(() => keystone.findUser(input.user, domain.id));
  if (!user)
    throw new BrokerError(BrokerCode.UserNotFound, {
      user_name: input.user,
      domain_name: input.userDomainName,
    });
  const outcome = await keystone.changePassword(user.id, input.password, input.newPassword);
  // Keystone revokes the user's tokens to the second: a token issued in the same second as
  // the change is refused later. Answer once that second is over, so that the client's
  // next request-vm gets a token that stays valid.
  if (outcome.kind === "ok") await new Promise((r) => setTimeout(r, 1000 - (Date.now() % 1000) + 20));
  switch (outcome.kind) {
    case "ok":
      return `Password successfully changed for user '${input.user}'`;
    case "policy_violation":
      throw new BrokerError(BrokerCode.InvalidRequest, { reason: outcome.message }, outcome.message);
    case "unavailable":
      throw keystoneUnavailable(outcome.message);
    default:
      throw new BrokerError(
        BrokerCode.AuthenticationFailed,
        {},
        `Keystone refused the password change (${outcome.kind})`,
      );
  }
}
