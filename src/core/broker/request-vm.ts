// request-vm: checks the license and Web Guard, authenticates the user (password, TOTP or
// token), chooses the TRS pool, records the request and starts its allocation task here and
// now; answers the request id at once (get-vm follows the allocation).
import { randomUUID } from "node:crypto";
import type { Pool } from "../../store/pools.ts";
import type { NewRequest } from "../../store/requests.ts";
import { ALLOCATION_TASK } from "../allocation/index.ts";
import type { BrokerIdentity, PasswordWarning } from "../broker-auth.ts";
import { BrokerCode, BrokerError } from "../broker-error.ts";
import type { Caller } from "../identity.ts";
import { choosePool } from "./choose-pool.ts";
import { type BrokerContext, guard } from "./context.ts";
import { allocateAtOnce } from "./warm-path.ts";

export interface RequestVmInput {
  /** Either token, or user + password (+ user_domain_name, otp). */
  token?: string;
  user?: string;
  password?: string;
  userDomainName?: string;
  otp?: string;
  authTenant?: string;
  projectDomainName?: string;
  ipAddress?: string;
  connType?: string;
  os?: string;
  client?: string;
  /** The address the HTTP request came from (Web Guard, when ip_address is not given). */
  peerIp?: string;
}

export interface RequestVmResult {
  requestId: string;
  token: string;
  /** Who the token is, as Keystone said when it issued or validated it. */
  caller?: Caller;
  warning?: PasswordWarning;
}

export async function requestVm(ctx: BrokerContext, input: RequestVmInput): Promise<RequestVmResult> {
  const { deps, auth } = ctx;
  if (!(await deps.license.allowsService())) {
    throw new BrokerError(
      BrokerCode.LicenseInvalid,
      { cloud_url: deps.cloud.session.authUrl },
      "the license is missing, invalid or expired",
    );
  }
  // The user's domain is known before authentication only for a password; a token's
  // domain is checked against the rules once Keystone has told it.
  if (!input.token) guard(ctx, input, input.userDomainName ?? "Default");
  const identity = await authenticate(ctx, input);
  if (input.token) guard(ctx, input, identity.domainName);
  const pool = await choosePool(ctx, identity, input);
  const requestId = await startAllocation(ctx, identity, pool, input);
  return { requestId, token: identity.token, caller: identity.caller, warning: auth.warning(identity) };
}

function authenticate({ auth }: BrokerContext, input: RequestVmInput): Promise<BrokerIdentity> {
  if (input.token) return auth.withToken(input.token);
  return auth.withPassword({
    user: input.user!,
    password: input.password!,
    userDomainName: input.userDomainName ?? "Default",
    otp: input.otp,
  });
}

async function startAllocation(
  ctx: BrokerContext,
  identity: BrokerIdentity,
  pool: Pool,
  input: RequestVmInput,
): Promise<string> {
  const { deps, log } = ctx;
  const requestId = `req-${randomUUID()}`;
  const request: NewRequest = {
    id: requestId,
    userId: identity.userId,
    userName: identity.userName,
    domainId: identity.domainId,
    projectId: pool.id,
    projectName: pool.name,
    connType: input.connType ?? null,
    clientIp: input.ipAddress ?? null,
    peerIp: input.peerIp ?? null,
    clientOs: input.os ?? null,
    clientInfo: input.client ?? null,
    taskId: null,
  };
  try {
    if (await allocateAtOnce(ctx, identity, pool, input, request)) return requestId;
  } catch (err) {
    // Nothing was written: the ordinary path tries again and says what is wrong.
    log.warn({ err, request_id: requestId }, "warm path failed: the allocation task takes over");
  }
  await deps.repos.requests.insert(request);
  try {
    // Otherwise the allocation task starts here and now; the task row is its durable trace
    // and pg-boss runs it again elsewhere if this process dies.
    const taskId = await deps.tasks.runNow(ALLOCATION_TASK, { request_id: requestId });
    await deps.repos.requests.setTask(requestId, taskId);
  } catch (err) {
    log.error({ err, request_id: requestId }, "cannot start the allocation task");
    await deps.repos.requests.fail(requestId, [], BrokerCode.TaskNotStarted, {});
    throw new BrokerError(BrokerCode.TaskNotStarted, {}, (err as Error).message);
  }
  return requestId;
}
