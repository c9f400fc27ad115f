// `rs-server license ...`: the vendor's side of licensing. `keygen` makes an Ed25519 key pair
// (the public half goes into license.publicKey), `sign` issues a license file with the
// private half, `verify` checks a file the way the server does.
import { generateKeyPairSync, randomBytes, sign } from "node:crypto";
import { readFileSync } from "node:fs";
import { Command, InvalidArgumentError } from "commander";
import { canonicalJson, type LicenseFields, LicenseService } from "../adapters/license-file.ts";

export interface LicenseOutput {
  write(text: string): void;
}

export function generateKeyPair(): { privateKey: string; publicKey: string } {
  const { privateKey, publicKey } = generateKeyPairSync("ed25519");
  return {
    privateKey: privateKey.export({ type: "pkcs8", format: "pem" }).toString(),
    publicKey: publicKey.export({ type: "spki", format: "pem" }).toString(),
  };
}

/** The license file for `fields`, signed with the PEM private key. */
export function signLicense(fields: LicenseFields, privateKeyPem: string) {
  const signature = sign(null, Buffer.from(canonicalJson(fields)), privateKeyPem).toString("base64");
  return { license: fields, signature };
}

/** Unix seconds from "2026-12-31", an ISO date-time, or a number of seconds. */
export function parseUnixTime(value: string): number {
  if (/^\d+$/.test(value)) return Number(value);
  const ms = Date.parse(value);
  if (Number.isNaN(ms))
    throw new InvalidArgumentError("expected a date (2026-12-31), ISO time or unix seconds");
  return Math.floor(ms / 1000);
}

export function licenseCommand(out: LicenseOutput = process.stdout): Command {
  const license = new Command("license").description("Issue and check signed license files");

  license
    .command("keygen")
    .description("Print a new Ed25519 key pair (private key first, then public key), in PEM")
    .action(() => {
      const pair = generateKeyPair();
      out.write(pair.privateKey + pair.publicKey);
    });

  license
    .command("sign")
    .description("Print a license file signed with the given private key")
    .requiredOption("--key <private.pem>", "Ed25519 private key (PEM file)")
    .requiredOption("--name <licensee>", "licensee name")
    .requiredOption("--expire-at <date>", "expiry: date, ISO time or unix seconds", parseUnixTime)
    .option("--created-at <date>", "issue time (default now)", parseUnixTime)
    .option("--product <product>", "product", "RSserver")
    .option("--surrogate-name <name>", "surrogate name (default: the product)")
    .option("--module-package <package>", "module package", "rs_server")
    .option("--unique-id <id>", "license id (default: generated)")
    .action((opts) => {
      const fields: LicenseFields = {
        created_at: opts.createdAt ?? Math.floor(Date.now() / 1000),
        expire_at: opts.expireAt,
        module_package: opts.modulePackage,
        name: opts.name,
        product: opts.product,
        surrogate_name: opts.surrogateName ?? opts.product,
        unique_id: opts.uniqueId ?? `rs-${randomBytes(10).toString("hex")}`,
      };
      const file = signLicense(fields, readFileSync(opts.key, "utf8"));
      out.write(`${JSON.stringify(file, null, 2)}\n`);
    });

  license
    .command("verify")
    .description("Check a license file against a public key; exit status 1 unless it is valid")
    .argument("<file>", "license file")
    .requiredOption("--public-key <public.pem>", "Ed25519 public key (PEM file)")
    .action(async (file: string, opts) => {
      const service = new LicenseService({ file, publicKey: opts.publicKey, enforce: true });
      const info = await service.current();
      out.write(`${JSON.stringify(info, null, 2)}\n`);
      if (!(await service.valid())) process.exitCode = 1;
    });

  return license;
}
