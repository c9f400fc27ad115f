// Tables as openstackclient draws them (cliff's `-f table`): a border of + - |, columns padded
// to their widest line, a multi-line value on several lines of its row. No dependency.

export type Row = Record<string, unknown>;
export interface Column {
  /** The column's name: the table header, the key with -f json/yaml, what -c selects. */
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
    columns.map((c) => cell(typeof c.value === "string" ? row[c.value] : c.value(row)).split(/\r?\n/)),
  );
  const widths = columns.map((c, i) =>
    Math.max(c.header.length, ...cells.flatMap((r) => r[i].map((line) => line.length))),
  );
  const border = `+${widths.map((w) => "-".repeat(w + 2)).join("+")}+`;
  const line = (parts: string[]) => `| ${parts.map((p, i) => p.padEnd(widths[i])).join(" | ")} |`;
  const rowLines = (row: string[][]) => {
    const height = Math.max(1, ...row.map((lines) => lines.length));
    return Array.from({ length: height }, (_, n) => line(row.map((lines) => lines[n] ?? "")));
  };
  // An empty list prints nothing, as openstack does.
  if (rows.length === 0) return "";
  return `${[border, line(columns.map((c) => c.header)), border, ...cells.flatMap(rowLines), border].join("\n")}\n`;
}

/** One object as two columns, Field and Value, in the object's own key order; a nested
 * object (a pool's reserve, a license) gives one row per key, named `outer.inner`. */
export function fields(object: Row): string {
  const rows = Object.entries(object).flatMap(([field, value]) =>
    value && typeof value === "object" && !Array.isArray(value)
      ? Object.entries(value).map(([key, inner]) => ({ field: `${field}.${key}`, value: inner }))
      : [{ field, value }],
  );
  return table(rows, [
    { header: "Field", value: "field" },
    { header: "Value", value: "value" },
  ]);
}
