// What no field of a broker request may hold: control characters (NUL, newlines, escapes). A NUL
// cannot be stored in PostgreSQL text, and a newline in a user name rewrote the Kerberos script's
// line-based input; no name, password, address or client string needs either. Refused as
// code 9 before the body is used, walked with a stack of its own (deep JSON cannot overflow it).
import { BrokerCode, BrokerError } from "../core/broker-error.ts";
import type { App } from "../http/app.ts";

// biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point
const CONTROL = /[\u0000-\u001f\u007f]/;
/** Half of a UTF-16 pair alone (JSON's "\ud800"): no Unicode text, and no URL can encode it. */
const LONE_SURROGATE = /\p{Cs}/u;

/** The path of the first string (or key) with a control character, if any. */
export function controlCharacterAt(input: unknown): string | undefined {
  const pending: [unknown, string][] = [[input, ""]];
  while (pending.length > 0) {
    const [value, path] = pending.pop()!;
    if (typeof value === "string") {
      if (CONTROL.test(value) || LONE_SURROGATE.test(value)) return path || "body";
    } else if (value && typeof value === "object") {
      for (const [k, v] of Object.entries(value)) {
        const at = path ? `${path}.${k}` : k;
        if (CONTROL.test(k) || LONE_SURROGATE.test(k)) return at;
        pending.push([v, at]);
      }
    }
  }
  return undefined;
}

export function refuseControlCharacters(v1: App): void {
  v1.addHook("preValidation", async (req) => {
    const at = controlCharacterAt(req.body);
    if (at)
      throw new BrokerError(BrokerCode.InvalidRequest, {
        reason: `${at} must not contain control characters or lone surrogates`,
      });
  });
}
