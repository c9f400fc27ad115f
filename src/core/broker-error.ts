// The broker's closed set of failures: a numbered code of the reference's table and the
// values of its message's placeholders. The core throws these; the broker API renders them.
export type BrokerErrorCode =
  | 1
  | 2
  | 3
  | 4
  | 5
  | 6
  | 7
  | 8
  | 9
  | 10
  | 11
  | 12
  | 13
  | 14
  | 15
  | 16
  | 17
  | 18
  | 19
  | 20
  | 21
  | 22
  | 23
  | 24
  | 25
  | 26
  | 27
  /** An extension: too many failed authentications (HTTP 429). */
  | 28;

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
export const ALLOCATION_CODES: ReadonlySet<number> = new Set([3, 12, 13, 14, 17, 18, 25]);
