// Plain-text tables for the operator CLI: columns padded to their widest cell, no dependency.

export type Row = Record<string, unknown>;
export interface Column {
  header: string;
  /** A key of the row, or a function of it. */
  value: string | ((row: Row) => unknown);
}

/** One cell's text: nothing for null, lists joined with commas, objects as compact JSON. */
export function cell(value: unknown): string {
  if (value === null || value === undefined) return "";
  if (Array.isArray(value) && value.every((v) => typeof v !== "object" || v === null)) return value.join(",");
  if (typeof value === "object") return JSON.stringify(value);
  return String(value);
}

export function table(rows: Row[], columns: Column[]): string {
  const cells = rows.map((row) =>
    columns.map((c) =>
      cell(typeof c.value === "string" ? row[c.value] : c.value(row)).replace(/\s*\n\s*/g, " "),
    ),
  );
  const widths = columns.map((c, i) => Math.max(c.header.length, ...cells.map((r) => r[i].length)));
  const line = (parts: string[]) =>
    parts
      .map((p, i) => p.padEnd(widths[i]))
      .join("  ")
      .trimEnd();
  return `${[line(columns.map((c) => c.header)), ...cells.map(line)].join("\n")}\n`;
}

/** One object as two columns, field and value, in the object's own key order; a nested
 * object (a pool's reserve, a license) gives one row per key, named `outer.inner`. */
export function fields(object: Row): string {
  const rows = Object.entries(object).flatMap(([field, value]) =>
    value && typeof value === "object" && !Array.isArray(value)
      ? Object.entries(value).map(([key, inner]) => ({ field: `${field}.${key}`, value: inner }))
      : [{ field, value }],
  );
  return table(rows, [
    { header: "FIELD", value: "field" },
    { header: "VALUE", value: "value" },
  ]);
}
