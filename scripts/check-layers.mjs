#!/usr/bin/env node
// The layering rules of docs/architecture.md, checked over every import of src/ (static,
// dynamic and type-only alike: a type import is still a dependency of the reader's mind).
// Zero exceptions: a new import against a rule fails CI with the file, the line and the rule.
//   core/            nothing from http/, admin/, broker/, adapters/, the composition root,
//                    fastify, kysely, pg or node:child_process
//   store/           nothing from http/ or core/
//   admin/, broker/  (the routes) nothing from store/, tasks/, cloud/ or adapters/
//   shared/          nothing at all
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";

const root = resolve(dirname(new URL(import.meta.url).pathname), "..");
const src = join(root, "src");

const RULES = [
  {
    from: "core",
    forbid: ["http", "admin", "broker", "adapters", "composition.ts", "runtime.ts", "main.ts", "simulator"],
    packages: ["fastify", "@fastify/", "kysely", "pg", "pg-boss", "node:child_process", "child_process"],
  },
  { from: "store", forbid: ["http", "core", "admin", "broker"], packages: ["fastify", "@fastify/"] },
  {
    from: "admin",
    forbid: ["store", "tasks", "cloud", "adapters", "simulator"],
    packages: ["kysely", "pg", "pg-boss"],
  },
  {
    from: "broker",
    forbid: ["store", "tasks", "cloud", "adapters", "simulator"],
    packages: ["kysely", "pg", "pg-boss"],
  },
  { from: "shared", forbid: ["*"], packages: ["*"] },
];

function filesUnder(dir) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return filesUnder(path);
    return /\.(ts|js|mjs)$/.test(name) ? [path] : [];
  });
}

const IMPORT =
  /(?:^|[\s;])(?:import|export)\s[^'"]*?from\s*["']([^"']+)["']|import\(\s*["']([^"']+)["']\s*\)|^\s*import\s*["']([^"']+)["']/gm;

function importsOf(text) {
  const out = [];
  for (const m of text.matchAll(IMPORT)) {
    const spec = m[1] ?? m[2] ?? m[3];
    const line = text.slice(0, m.index).split("\n").length + (m[0].startsWith("\n") ? 1 : 0);
    out.push({ spec, line });
  }
  return out;
}

const topOf = (file) => relative(src, file).split("/")[0];

const violations = [];
for (const rule of RULES) {
  const dir = join(src, rule.from);
  let files;
  try {
    files = filesUnder(dir);
  } catch {
    continue;
  }
  for (const file of files) {
    for (const { spec, line } of importsOf(readFileSync(file, "utf8"))) {
      let bad;
      if (spec.startsWith(".")) {
        const target = resolve(dirname(file), spec);
        if (!target.startsWith(src)) continue;
        const top = topOf(target);
        if (top !== rule.from && (rule.forbid.includes("*") || rule.forbid.includes(top))) bad = `src/${top}`;
      } else if (
        rule.packages.includes("*") ||
        rule.packages.some((p) =>
          p.endsWith("/") ? spec.startsWith(p) : spec === p || spec.startsWith(`${p}/`),
        )
      ) {
        bad = spec;
      }
      if (bad)
        violations.push(`${relative(root, file)}:${line}: ${rule.from}/ must not import ${bad} (${spec})`);
    }
  }
}

if (violations.length > 0) {
  console.error(`layering: ${violations.length} import(s) against docs/architecture.md#layers`);
  for (const v of violations) console.error(`  ${v}`);
  process.exit(1);
}
console.log("layering: every import of src/ follows the rules");
