// The broker's closed set of failures: a numbered code of the reference's table and the
// values of its message's placeholders. The core throws these; the broker API renders them.
import { isCloudError } from "../cloud/http.ts";

/**
 * The numbered codes of the reference's table (docs/broker-api.md), by name: the core says
 * which failure it means, the broker API renders the number and its message (broker/errors.ts).
 */
export const BrokerCode = {
  Unexpected: 1,
  LicenseInvalid: 2,
  TaskFailed: 3,
  TaskNotStarted: 4,
  NoTrsProject: 5,
  AuthenticationFailed: 6,
  PasswordExpired: 7,
  NotTrsProject: 8,
  InvalidRequest: 9,
  RequestNotFound: 10,
  RequestOfAnotherUser: 11,
  QuotaExceeded: 12,
  InstanceCreationFailed: 13,
  NoInstances: 14,
  DomainNotFound: 15,
  UserNotFound: 16,
  InstanceInvalidState: 17,
  NoInstanceIp: 18,
  PasswordExpiring: 19,
  AuthenticationsLimited: 20,
  KeystoneUnavailable: 21,
  KerberosScriptUnavailable: 22,
  KerberosScriptFailed: 23,
  TokenInvalid: 24,
  AllocationFailed: 25,
  WebGuardRefused: 26,
  OtpRequired: 27,
  /** An extension: too many failed authentications (HTTP 429). */
  TooManyAttempts: 28,
} as const;

export type BrokerErrorCode = (typeof BrokerCode)[keyof typeof BrokerCode];

export type BrokerErrorData = Record<string, string | number | null>;

export class BrokerError extends Error {
  constructor(
    readonly code: BrokerErrorCode,
    readonly data: BrokerErrorData = {},
    /** Operator-facing cause for logs and request steps; never shown as the client message. */
    readonly detail?: string,
  ) {
    super(detail ?? `broker error ${code}`);
    this.name = "BrokerError";
  }
}

export function isBrokerError(err: unknown): err is BrokerError {
  return err instanceof BrokerError;
}

/** Codes a failed allocation may end with (get-vm answers them); anything else becomes 25. */
export const ALLOCATION_CODES: ReadonlySet<number> = new Set([
  BrokerCode.TaskFailed,
  BrokerCode.QuotaExceeded,
  BrokerCode.InstanceCreationFailed,
  BrokerCode.NoInstances,
  BrokerCode.InstanceInvalidState,
  BrokerCode.NoInstanceIp,
  BrokerCode.AllocationFailed,
]);

/** Keystone could not answer: code 21, whichever broker call met the outage. */
export const keystoneUnavailable = (detail: string) =>
  new BrokerError(BrokerCode.KeystoneUnavailable, {}, detail);

/** Runs a Keystone call of the broker; an outage becomes code 21, anything else goes through. */
export async function orKeystoneUnavailable<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    if (isCloudError(err, "unavailable")) throw keystoneUnavailable(err.message);
    throw err;
  }
}
