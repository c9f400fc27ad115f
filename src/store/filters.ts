// Translates modifier filters into SQL conditions on a column (text ops case-insensitive).
import { type Expression, type ExpressionBuilder, type SqlBool, sql } from "kysely";
import type { Filter } from "../shared/types.ts";

const escapeLike = (s: string) => s.replace(/[\\%_]/g, (c) => `\\${c}`);

export function filterCondition<DB, TB extends keyof DB>(
  _eb: ExpressionBuilder<DB, TB>,
  column: Expression<unknown>,
  filter: Filter,
): Expression<SqlBool> {
  return filterSql(column, filter);
}

/** The condition of one modifier filter on a column. */
export function filterSql(column: Expression<unknown>, filter: Filter): Expression<SqlBool> {
  const [first] = filter.values;
  const lowerCol = sql`lower(${column}::text)`;
  switch (filter.op) {
    case "eq":
      return sql<SqlBool>`${column}::text = ${first}`;
    case "noteq":
      return sql<SqlBool>`${column}::text IS DISTINCT FROM ${first}`;
    case "in":
      return filter.values.length === 0
        ? sql<SqlBool>`false`
        : sql<SqlBool>`${column}::text IN (${sql.join(filter.values)})`;
    case "notin":
      return filter.values.length === 0
        ? sql<SqlBool>`true`
        : sql<SqlBool>`${column}::text NOT IN (${sql.join(filter.values)})`;
    case "gt":
      return sql<SqlBool>`${column}::text > ${first}`;
    case "gte":
      return sql<SqlBool>`${column}::text >= ${first}`;
    case "lt":
      return sql<SqlBool>`${column}::text < ${first}`;
    case "lte":
      return sql<SqlBool>`${column}::text <= ${first}`;
    case "contains":
      return sql<SqlBool>`${lowerCol} LIKE ${`%${escapeLike(first.toLowerCase())}%`}`;
    case "notcontains":
      return sql<SqlBool>`${lowerCol} NOT LIKE ${`%${escapeLike(first.toLowerCase())}%`}`;
    case "startswith":
      return sql<SqlBool>`${lowerCol} LIKE ${`${escapeLike(first.toLowerCase())}%`}`;
    case "notstartswith":
      return sql<SqlBool>`${lowerCol} NOT LIKE ${`${escapeLike(first.toLowerCase())}%`}`;
    case "endswith":
      return sql<SqlBool>`${lowerCol} LIKE ${`%${escapeLike(first.toLowerCase())}`}`;
    case "notendswith":
      return sql<SqlBool>`${lowerCol} NOT LIKE ${`%${escapeLike(first.toLowerCase())}`}`;
  }
}

/**
 * The keyset condition "after the marker row" for a list ordered by `columns` (the last one
 * the id, all NOT NULL) in one direction: a row comparison against the marker's values read
 * by scalar subqueries (which an index on the columns answers; the values never pass through
 * JavaScript, where timestamps would lose their microseconds).
 */
export function keysetAfter(
  table: string,
  alias: string,
  columns: readonly string[],
  idColumn: string,
  marker: string | number,
  dir: "asc" | "desc",
): Expression<SqlBool> {
  const own = sql.join(columns.map((c) => sql.ref(`${alias}.${c}`)));
  const theirs = sql.join(
    columns.map(
      (c) =>
        sql`(SELECT ${sql.ref(`keyset_m.${c}`)} FROM ${sql.table(table)} keyset_m WHERE ${sql.ref(`keyset_m.${idColumn}`)} = ${marker})`,
    ),
  );
  return sql<SqlBool>`(${own}) ${sql.raw(dir === "asc" ? ">" : "<")} (${theirs})`;
}
