// Translates modifier filters into SQL conditions on a column (text ops case-insensitive).
import { type Expression, type ExpressionBuilder, type SqlBool, sql } from "kysely";
import type { Filter } from "../shared/types.ts";

const escapeLike = (s: string) => s.replace(/[\\%_]/g, (c) => `\\${c}`);

export function filterCondition<DB, TB extends keyof DB>(
  eb: ExpressionBuilder<DB, TB>,
  column: Expression<unknown>,
  filter: Filter,
): Expression<SqlBool> {
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
  void eb;
}
