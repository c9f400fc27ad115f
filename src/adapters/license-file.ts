// The signed license file, the adapter behind the core's License port (docs/license.md). A license file is
//   {"license": {created_at, expire_at, module_package, name, product, surrogate_name, unique_id},
//    "signature": "<base64 Ed25519 signature over canonicalJson(license)>"}
// and the configured public key (PEM, or the path of a PEM file) verifies it. The file is
// re-read whenever it changes, so an operator can drop in a new license without a restart.
import { createPublicKey, type KeyObject, verify } from "node:crypto";
import { readFile, stat } from "node:fs/promises";
import type { License, LicenseFields, LicenseInfo } from "../core/license.ts";

export type { LicenseFields, LicenseInfo };

export interface LicenseConfig {
  file: string;
  publicKey: string;
  enforce: boolean;
}

export interface LicenseServiceOptions {
  now?: () => Date;
}

/** JSON with object keys sorted at every level and no whitespace: what gets signed. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (value !== null && typeof value === "object") {
    const entries = Object.keys(value as object)
      .sort()
      .filter((k) => (value as Record<string, unknown>)[k] !== undefined)
      .map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`);
    return `{${entries.join(",")}}`;
  }
  return JSON.stringify(value);
}

const FIELDS: (keyof LicenseFields)[] = [
  "created_at",
  "expire_at",
  "module_package",
  "name",
  "product",
  "surrogate_name",
  "unique_id",
];

type Read = Omit<LicenseInfo, "expired">;

interface Snapshot {
  key: string;
  license: Read;
}

export class LicenseService implements License {
  private readonly now: () => Date;
  private cached: Snapshot | undefined;
  private cachedKey: { stamp: string; key: KeyObject | Error } | undefined;

  constructor(
    private readonly config: LicenseConfig,
    options: LicenseServiceOptions = {},
  ) {
    this.now = options.now ?? (() => new Date());
  }

  /** Whether the broker refuses requests (code 2) on an invalid license. */
  get enforced(): boolean {
    return this.config.enforce && this.config.file !== "";
  }

  /** The license with `verified`, or null when no license file is configured. */
  async current(): Promise<LicenseInfo | null> {
    if (!this.config.file) return null;
    const snapshot = await this.load();
    const expireAt = snapshot.license.expire_at;
    const expired = expireAt === undefined || expireAt * 1000 <= this.now().getTime();
    return { ...snapshot.license, expired };
  }

  /** Verified and not expired. False without a license. */
  async valid(): Promise<boolean> {
    const license = await this.current();
    return license?.verified === true && !license.expired;
  }

  /** What the broker asks: true unless enforcement is on and the configured license is not valid. */
  async allowsService(): Promise<boolean> {
    return !this.enforced || (await this.valid());
  }

  private async load(): Promise<Snapshot> {
    const [fileStamp, publicKey] = await Promise.all([stampOf(this.config.file), this.publicKey()]);
    const key = `${fileStamp}|${this.cachedKey?.stamp ?? ""}`;
    if (this.cached?.key === key) return this.cached;
    const license = await this.read(publicKey);
    this.cached = { key, license };
    return this.cached;
  }

  private async read(publicKey: KeyObject | Error): Promise<Read> {
    let parsed: unknown;
    try {
      parsed = JSON.parse(await readFile(this.config.file, "utf8"));
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      const why = err instanceof SyntaxError ? "is not valid JSON" : `cannot be read (${code ?? "error"})`;
      return { verified: false, error: `license file ${why}` };
    }
    const body = (parsed as { license?: unknown })?.license;
    const signature = (parsed as { signature?: unknown })?.signature;
    if (body === null || typeof body !== "object" || Array.isArray(body)) {
      return { verified: false, error: "license file has no license object" };
    }
    const fields = pick(body as Record<string, unknown>);
    if (typeof signature !== "string") return { ...fields, verified: false, error: "no signature" };
    if (publicKey instanceof Error) return { ...fields, verified: false, error: publicKey.message };
    let ok = false;
    try {
      ok = verify(null, Buffer.from(canonicalJson(body)), publicKey, Buffer.from(signature, "base64"));
    } catch {
      ok = false;
    }
    if (!ok) return { ...fields, verified: false, error: "signature does not match" };
    return { ...fields, verified: true };
  }

  /** The configured key: PEM text, or the path of a PEM file (re-read when it changes). */
  private async publicKey(): Promise<KeyObject | Error> {
    const value = this.config.publicKey.trim();
    if (!value) {
      this.cachedKey = { stamp: "none", key: new Error("no license public key configured") };
      return this.cachedKey.key;
    }
    const inline = value.includes("-----BEGIN");
    const stamp = inline ? "inline" : await stampOf(value);
    if (this.cachedKey?.stamp === stamp) return this.cachedKey.key;
    let key: KeyObject | Error;
    try {
      const pem = inline ? value : await readFile(value, "utf8");
      key = createPublicKey(pem);
      if (key.asymmetricKeyType !== "ed25519") key = new Error("license public key is not an Ed25519 key");
    } catch {
      key = new Error(
        inline ? "license public key is not a valid PEM" : "license public key file cannot be read",
      );
    }
    this.cachedKey = { stamp, key };
    return key;
  }
}

function pick(body: Record<string, unknown>): Partial<LicenseFields> {
  const out: Record<string, unknown> = {};
  for (const f of FIELDS) {
    const v = body[f];
    const wantsNumber = f === "created_at" || f === "expire_at";
    if (wantsNumber ? typeof v === "number" && Number.isFinite(v) : typeof v === "string") out[f] = v;
  }
  return out as Partial<LicenseFields>;
}

/** Changes whenever the file is replaced or rewritten (rename-in-place included). */
async function stampOf(path: string): Promise<string> {
  try {
    const s = await stat(path);
    return `${s.ino}:${s.size}:${s.mtimeMs}:${s.ctimeMs}`;
  } catch (err) {
    return `missing:${(err as NodeJS.ErrnoException).code ?? ""}`;
  }
}
