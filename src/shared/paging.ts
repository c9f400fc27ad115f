// Paging and time ranges of the admin lists (docs/admin-api.md#paging-sorting-and-time-ranges--extension):
// what a route parsed from `limit`, `marker`, `sort_key`, `sort_dir` and `created_at__gt`...,
// handed to the store, which answers one page by keyset (never OFFSET).

export type SortDir = "asc" | "desc";

export interface PageQuery {
  /** At most this many items (undefined: all of them). */
  limit?: number;
  /** The id of the last item of the previous page. */
  marker?: string;
  sortKey: string;
  sortDir: SortDir;
}

export const TIME_OPS = ["gt", "gte", "lt", "lte"] as const;
export type TimeOp = (typeof TIME_OPS)[number];

/** `created_at__gte=2026-01-01T00:00:00`: field, modifier and an ISO 8601 time (UTC when no offset). */
export interface TimeFilter {
  field: string;
  op: TimeOp;
  /** ISO 8601 with an offset, as PostgreSQL parses it (microseconds kept). */
  at: string;
}
