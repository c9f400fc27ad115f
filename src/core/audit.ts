// The audit trail (issue 16): who changed what through the admin API, when, from where, and
// what came of it. The admin app hands every write request it answered to `record`, from one
// hook for every route (src/admin/audit.ts); this decides what of the request is kept:
// the target ids (the route's parameters), the NAMES of every key the body sent, and the
// values of only those keys that are plain and safe. Never a password, a token, a one-time
// code, a script (instance_init_script may hold secrets) nor anything named like a secret.
import type { Logger } from "pino";
import type { AuditEvent, AuditFilter, AuditRepository } from "../store/audit.ts";

export type { AuditEvent, AuditFilter };

/** What the HTTP edge knows of one answered write request. */
export interface AuditedRequest {
  caller?: { userId: string; userName: string; domainId: string };
  /** On a public route (the dashboard's sign-in), the user name the body gave: who asked. */
  claimedUser?: string;
  method: string;
  /** The route's pattern (`/v1/projects/:project_id`), never the raw URL. */
  route: string;
  params: Record<string, unknown>;
  body: unknown;
  clientIp: string | null;
  status: number;
  requestId: string | null;
}

/** Words that make a key secret: its value is never kept (its name is), nor anything under it. */
const SECRET_WORD =
  /^(pass|passwd|passphrase|.*password|.*token|.*secret|otp|totp|.*script|credentials?|keys?|private|cert|certificate|auth|authorization|cookie|ticket)$/;

/** Whether a key names a secret: by its words (`api_key`, `adminPass`, `instance_init_script`), not by
 * substrings (`description` holds "script" and is not one). */
export function isSecretKey(key: string): boolean {
  const words = key
    .replace(/([a-z0-9])([A-Z])/g, "$1_$2")
    .toLowerCase()
    .split(/[^a-z0-9]+/);
  return words.some((w) => SECRET_WORD.test(w));
}
/** Longer strings are cut: a value is there to say what changed, not to carry documents. */
const MAX_VALUE_CHARS = 256;
const MAX_LIST_ITEMS = 100;
/** Bodies nested deeper than this are not walked (key names past it are not listed). */
const MAX_DEPTH = 4;
const MAX_KEYS = 200;

/** Cut to MAX_VALUE_CHARS, without NUL (PostgreSQL's text and jsonb cannot hold it: a body refused for one is still recorded). */
const text = (s: string) => {
  const clean = s.replaceAll("\u0000", "\uFFFD");
  return clean.length > MAX_VALUE_CHARS ? `${clean.slice(0, MAX_VALUE_CHARS)}…` : clean;
};

function safeScalar(v: unknown): unknown {
  if (v === null || typeof v === "boolean") return v;
  if (typeof v === "number") return Number.isFinite(v) ? v : String(v);
  if (typeof v === "string") return text(v);
  return undefined;
}

/**
 * The key paths a body sent (`project.name`, `users`) and the safe values among them. Lists
 * of plain values (user ids, group ids) are kept as lists; lists of objects only by name.
 */
export function changedKeys(body: unknown): { keys: string[]; values: Record<string, unknown> } {
  const keys: string[] = [];
  const values: Record<string, unknown> = {};
  const walk = (node: unknown, path: string, depth: number, secret: boolean) => {
    if (keys.length >= MAX_KEYS) return;
    if (node === null || typeof node !== "object" || Array.isArray(node) || depth > MAX_DEPTH) {
      if (!path) return;
      keys.push(path);
      if (secret) return;
      if (Array.isArray(node)) {
        const items = node.slice(0, MAX_LIST_ITEMS).map(safeScalar);
        if (items.every((i) => i !== undefined)) values[path] = items;
      } else {
        const v = safeScalar(node);
        if (v !== undefined) values[path] = v;
      }
      return;
    }
    const entries = Object.entries(node as Record<string, unknown>);
    // An empty object was sent all the same (`{"session": {}}` closes a session now).
    if (entries.length === 0 && path) keys.push(path);
    for (const [k, v] of entries) {
      const key = text(k);
      walk(v, path ? `${path}.${key}` : key, depth + 1, secret || isSecretKey(key));
    }
  };
  walk(body, "", 0, false);
  return { keys, values };
}

function targetIds(params: Record<string, unknown>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(params ?? {})) {
    if (typeof v === "string" && !isSecretKey(k)) out[text(k)] = text(v);
  }
  return out;
}

export class AuditService {
  private readonly log: Logger;

  constructor(
    private readonly repo: Pick<AuditRepository, "append" | "list">,
    logger: Logger,
  ) {
    this.log = logger.child({ component: "audit" });
  }

  /** Keeps one answered write request. A failure to write is logged, never thrown at the caller. */
  async record(req: AuditedRequest): Promise<boolean> {
    const { keys, values } = changedKeys(req.body);
    try {
      await this.repo.append({
        userId: req.caller?.userId ?? null,
        userName: req.caller?.userName ?? (req.claimedUser !== undefined ? text(req.claimedUser) : null),
        domainId: req.caller?.domainId ?? null,
        method: req.method,
        route: text(req.route),
        target: targetIds(req.params),
        changedKeys: keys,
        changedValues: values,
        clientIp: req.clientIp,
        status: req.status,
        requestId: req.requestId,
      });
      return true;
    } catch (err) {
      this.log.error({ err, method: req.method, route: req.route }, "audit event not recorded");
      return false;
    }
  }

  list(filter: AuditFilter): Promise<AuditEvent[]> {
    return this.repo.list(filter);
  }
}
