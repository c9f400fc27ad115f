// Task facts that the routes, the engine and the store share.

/** How many tasks a listing answers at most (GET /v1/tasks). */
export const TASK_LIST_LIMIT = 100;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Task ids are UUIDs; anything else cannot name a task (and would make PostgreSQL raise). */
export const isTaskId = (id: string): boolean => UUID.test(id);
