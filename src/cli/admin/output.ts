// What a command prints, in openstackclient's formats: `-f table|json|value|yaml|csv`,
// `-c COLUMN` (repeatable) and `--noindent`, so that scripts written for `openstack` read the
// CLI the same way (`id=$(rs-server pools create ... -f value -c id)`).
import { type Command, Option } from "commander";
import { stringify } from "yaml";
import { CliError } from "./client.ts";
import { type Column, cell, fields, type Row, table } from "./table.ts";

export const FORMATS = ["table", "json", "value", "yaml", "csv"] as const;
export type Format = (typeof FORMATS)[number];

export interface OutputOptions {
  format: Format;
  columns: string[];
  noindent: boolean;
}

const collect = (value: string, previous: string[] = []) => [...previous, value];

/** The output options of every command that prints something. */
export function outputOptions(cmd: Command): Command {
  return cmd
    .addOption(new Option("-f, --format <format>", "output format").choices(FORMATS).default("table"))
    .option(
      "-c, --column <column>",
      "print only this column or field (repeatable, in the order given)",
      collect,
    )
    .option("--noindent", "with -f json, print the JSON on one line");
}

export function outputFrom(opts: Record<string, any>): OutputOptions {
  return { format: opts.format ?? "table", columns: opts.column ?? [], noindent: Boolean(opts.noindent) };
}

/** "Pool Name", "pool_name", "POOL NAME" and "poolname" all name the same column. */
const norm = (name: string) => name.toLowerCase().replace(/[\s_-]+/g, "");

/** The columns -c asks for, in its order: declared columns first, else any key the rows have. */
function selectColumns(declared: Column[], rows: Row[], wanted: string[]): Column[] {
  if (wanted.length === 0) return declared;
  const keys = new Set(rows.flatMap((r) => Object.keys(r)));
  return wanted.map((w) => {
    const byName = declared.find((c) => norm(c.header) === norm(w));
    if (byName) return byName;
    const key = [...keys].find((k) => norm(k) === norm(w));
    // An empty list has no keys to check against: the column is simply empty.
    if (key || rows.length === 0) return { header: key ?? w, value: key ?? w };
    const names = declared.map((c) => c.header);
    for (const k of keys) if (!names.some((n) => norm(n) === norm(k))) names.push(k);
    throw new CliError(`no column ${w}: choose from ${names.join(", ")}`, 2);
  });
}

const columnValue = (row: Row, c: Column) => (typeof c.value === "string" ? row[c.value] : c.value(row));

/** A value as JSON and YAML carry it: structures kept, undefined as null. */
const plain = (v: unknown) => (v === undefined ? null : v);

/** csv as openstackclient writes it (Python's QUOTE_NONNUMERIC): text quoted, numbers bare. */
function csvField(v: unknown): string {
  if (typeof v === "number" || typeof v === "boolean") return String(v);
  return `"${cell(v).replaceAll('"', '""')}"`;
}

function json(data: unknown, o: OutputOptions): string {
  return `${JSON.stringify(data, null, o.noindent ? undefined : 2)}\n`;
}

/** A list: a table of rows, or one JSON/YAML object per row keyed by column name. */
export function renderList(rows: Row[], declared: Column[], o: OutputOptions): string {
  const columns = selectColumns(declared, rows, o.columns);
  const records = () =>
    rows.map((r) => Object.fromEntries(columns.map((c) => [c.header, plain(columnValue(r, c))])));
  switch (o.format) {
    case "json":
      return json(records(), o);
    case "yaml":
      return rows.length === 0 ? "[]\n" : stringify(records());
    case "value":
      return rows.map((r) => `${columns.map((c) => cell(columnValue(r, c))).join(" ")}\n`).join("");
    case "csv":
      return [
        columns.map((c) => csvField(c.header)),
        ...rows.map((r) => columns.map((c) => csvField(columnValue(r, c)))),
      ]
        .map((line) => `${line.join(",")}\n`)
        .join("");
    default:
      return table(rows, columns);
  }
}

/** One object: FIELD/VALUE rows, the object itself in JSON/YAML, one value per line with value. */
export function renderObject(object: Row, o: OutputOptions): string {
  const keys = Object.keys(object);
  const columns = selectColumns(
    keys.map((k) => ({ header: k, value: k })),
    [object],
    o.columns,
  );
  const selected: Row = Object.fromEntries(columns.map((c) => [c.header, plain(columnValue(object, c))]));
  switch (o.format) {
    case "json":
      return json(selected, o);
    case "yaml":
      return stringify(selected);
    case "value":
      return Object.values(selected)
        .map((v) => `${cell(v)}\n`)
        .join("");
    case "csv":
      return `${Object.keys(selected).map(csvField).join(",")}\n${Object.values(selected).map(csvField).join(",")}\n`;
    default:
      return fields(selected);
  }
}
