// Tasks (#32, #33): the recent task ids, and one task's Celery-style state. Admin role.
import { Type as T } from "@sinclair/typebox";
import { badRequest, notFound } from "../http/errors.ts";
import { pageLinks, parsePaging } from "../http/paging.ts";
import { isTaskId, TASK_LIST_LIMIT } from "../shared/tasks.ts";
import type { AdminRoutes } from "./app.ts";
import { PageLinks, pagingParams, pagingQuery } from "./paged.ts";

/** The Keystone-style error body every admin error has. */
export const ErrorBody = T.Object(
  {
    error: T.Object({ code: T.Integer(), title: T.String(), message: T.String() }),
  },
  {
    description: "Error",
    example: { error: { code: 404, title: "Not Found", message: "No task 3519adaf-..." } },
  },
);

export const adminErrors = { 401: ErrorBody, 403: ErrorBody };

const TaskList = T.Object(
  { tasks: T.Array(T.String({ format: "uuid" })), tasks_links: PageLinks },
  {
    description: `Ids of the most recent tasks, newest first (at most ${TASK_LIST_LIMIT}).`,
    example: { tasks: ["3519adaf-7669-499e-88eb-8f05f64514e2", "013b9778-1d39-4b18-a06c-2780b67e1091"] },
  },
);

const Nullable = (description: string) => T.Union([T.String(), T.Null()], { description });

const TaskState = T.Object(
  {
    status: T.Union(
      [
        T.Literal("PENDING"),
        T.Literal("STARTED"),
        T.Literal("RETRY"),
        T.Literal("FAILURE"),
        T.Literal("SUCCESS"),
        T.Literal("REVOKED"),
      ],
      { description: "Celery task state." },
    ),
    name: Nullable("Task name."),
    traceback: Nullable("Error of the last failed attempt (FAILURE, RETRY), else null."),
    result: Nullable("JSON text of the task's result (SUCCESS), else null."),
  },
  {
    example: {
      status: "SUCCESS",
      name: "auto_allocate_users",
      traceback: null,
      result: '{"allocated":2,"without_instance":["0b1c..."]}',
    },
  },
);

const TaskParams = T.Object({ task_id: T.String({ description: "Task id (UUID)." }) });

/** The most one page of GET /tasks answers. */
export const TASK_PAGE_MAX = 500;

export const taskRoutes: AdminRoutes = (app, { core, config }) => {
  app.get(
    "/tasks",
    {
      schema: {
        tags: ["tasks"],
        summary: "List recent task ids",
        description: `Ids of the ${TASK_LIST_LIMIT} most recent tasks, newest first. Pages (extension): limit (at most ${TASK_PAGE_MAX}), marker (a task id); the next page is in the Link header (and tasks_links). Sorted by created_at, newest first only.`,
        querystring: T.Object(pagingQuery("tasks", "id", ["created_at"], "desc"), {
          additionalProperties: false,
        }),
        response: { 200: TaskList, ...adminErrors, 400: ErrorBody },
      },
    },
    async (req, reply) => {
      const plain = pagingParams(req.query);
      const paging = parsePaging(plain, {
        sortKeys: ["created_at"],
        defaultDir: "desc",
        maxPage: config.admin.maxPageSize,
      });
      if (paging.sortDir !== "desc") throw badRequest("tasks are listed newest first only (sort_dir=desc)");
      if (paging.marker !== undefined && !(isTaskId(paging.marker) && (await core.tasks.get(paging.marker))))
        throw badRequest(`marker ${paging.marker} is not a task`);
      const limit = Math.min(paging.limit ?? TASK_LIST_LIMIT, TASK_PAGE_MAX);
      const tasks = await core.tasks.list(limit + 1, paging.marker);
      const page = tasks.slice(0, limit);
      // Without limit or marker the reference's answer: the most recent ones, no link.
      const paged = paging.asked || paging.limit !== undefined;
      const next = paged && tasks.length > limit ? page[page.length - 1].id : undefined;
      const links = paged ? pageLinks(req, reply, paging, next) : undefined;
      return { tasks: page.map((t) => t.id), ...(links ? { tasks_links: links } : {}) };
    },
  );

  app.get(
    "/tasks/:task_id",
    {
      schema: {
        tags: ["tasks"],
        summary: "Get a task's state",
        description: "Celery-compatible state of one task. An unknown or malformed id is a 404.",
        params: TaskParams,
        response: { 200: TaskState, 404: ErrorBody, ...adminErrors },
      },
    },
    async (req) => {
      const id = req.params.task_id;
      // Not a UUID cannot name a task: the same 404 as an unknown id (ids are opaque to clients).
      const task = isTaskId(id) ? await core.tasks.get(id) : undefined;
      if (!task) throw notFound(`Could not find task: ${id}`);
      return { status: task.status, name: task.name, traceback: task.traceback, result: task.result };
    },
  );
};
