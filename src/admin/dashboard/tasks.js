// @ts-check
// Tasks: state, the live progress of running ones (a broker allocation's steps as they
// happen), the traceback of failed ones. Polled every 3 s. Above them the background work's
// periodic jobs (GET /v1/jobs), the late and failing ones first, with their last error.
import * as api from "./api.js";
import { html } from "./html.js";
import { language, t, when } from "./i18n.js";
import { ErrorLine, Loading, Status, useLoad } from "./ui.js";

const RUNNING = ["PENDING", "STARTED", "RETRY"];

/** @param {{ tasks: any[] }} d */
export const anyRunning = (d) => d.tasks.some((x) => RUNNING.includes(x.status));

/** @param {{ task: any }} p */
function Progress({ task }) {
  const steps = task.request?.steps ?? [];
  const running = RUNNING.includes(task.status);
  if (!steps.length) return running ? html`<progress aria-label=${t("task.progress")}></progress>` : null;
  const done = steps.filter((/** @type {any} */ s) => s.outcome !== "running").length;
  return html`<div class="steps">
    ${running ? html`<progress aria-label=${t("task.progress")} max=${steps.length + 1} value=${done}></progress>` : null}
    <ol>${steps.map(
      (/** @type {any} */ s) =>
        html`<li key=${s.name} class=${s.outcome}>${s.name}: ${t(`step.${s.outcome}`)}${s.duration_ms != null ? ` (${s.duration_ms} ms)` : ""}${s.detail ? ` — ${s.detail_translations?.[language()] ?? s.detail}` : ""}</li>`,
    )}</ol>
  </div>`;
}

/** @param {{ tasks: any[], id?: string, poolNames?: Record<string, string> }} p */
export function TaskTable({ tasks, id = "tasks-table", poolNames = {} }) {
  if (!tasks.length) return html`<p>${t("tasks.none")}</p>`;
  return html`<div class="scroll"><table id=${id}>
    <thead><tr>
      <th scope="col">${t("task.name")}</th><th scope="col">${t("task.state")}</th>
      <th scope="col">${t("task.created")}</th><th scope="col">${t("task.finished")}</th>
      <th scope="col">${t("task.progress")}</th>
    </tr></thead>
    <tbody>${tasks.map(
      (x) => html`<tr key=${x.id} data-task=${x.id}>
        <td><span class="mono">${x.name}</span>${x.pool_id ? html`<br /><a href=${`#/pools/${x.pool_id}`} class="small">${poolNames[x.pool_id] ?? t("task.pool")}</a>` : null}</td>
        <td><${Status} status=${x.status} />${x.retries ? html` <small>${t("task.retries", { n: x.retries })}</small>` : null}</td>
        <td>${when(x.created_at)}</td>
        <td>${when(x.finished_at)}</td>
        <td>
          <${Progress} task=${x} />
          ${x.traceback ? html`<details><summary>${t("task.traceback")}</summary><pre>${x.traceback}</pre></details>` : null}
        </td>
      </tr>`,
    )}</tbody>
  </table></div>`;
}

const JOB_ORDER = ["late", "failing", "running", "ok"];

/** @param {{ jobs: any[], id: string }} p */
export function JobTable({ jobs, id }) {
  const sorted = [...jobs].sort(
    (a, b) => JOB_ORDER.indexOf(a.state) - JOB_ORDER.indexOf(b.state) || a.name.localeCompare(b.name),
  );
  return html`<div class="scroll"><table id=${id}>
    <thead><tr>
      <th scope="col">${t("job.name")}</th><th scope="col">${t("task.state")}</th>
      <th scope="col">${t("job.every")}</th><th scope="col">${t("job.lastSuccess")}</th>
      <th scope="col">${t("job.failures")}</th><th scope="col">${t("job.next")}</th>
    </tr></thead>
    <tbody>${sorted.map(
      (
        j,
      ) => html`<tr key=${j.name} data-job=${j.name} class=${j.state === "ok" || j.state === "running" ? "" : "trouble"}>
        <td><span class="mono">${j.name}</span>${
          j.last_error
            ? html`<details><summary>${t("job.error")}</summary><pre>${j.last_error}</pre></details>`
            : null
        }</td>
        <td><${Status} status=${j.state} /></td>
        <td>${t("job.seconds", { n: j.period_seconds })}</td>
        <td>${when(j.last_succeeded_at)}</td>
        <td>${j.failures}</td>
        <td>${when(j.next_run_at)}</td>
      </tr>`,
    )}</tbody>
  </table></div>`;
}

/**
 * The late and failing jobs in the open, the others (running or ok) folded away: a glance
 * says whether the background work needs a look.
 * @param {{ jobs: any[] }} p
 */
function Jobs({ jobs }) {
  const trouble = jobs.filter((j) => j.state === "late" || j.state === "failing");
  const fine = jobs.filter((j) => !trouble.includes(j));
  return html`${trouble.length ? html`<${JobTable} jobs=${trouble} id="jobs-trouble" />` : null}
    <details id="jobs-fine">
      <summary>${t(trouble.length ? "jobs.fineSome" : "jobs.fineAll", { n: fine.length })}</summary>
      <${JobTable} jobs=${fine} id="jobs-table" />
    </details>`;
}

export function Tasks() {
  const { data, error, loading, reload } = useLoad(() => api.get("/activity/tasks?limit=100"), [], {
    everyMs: 3000,
  });
  const pools = useLoad(() => api.get("/projects/"), []);
  /** @type {Record<string, string>} */
  const poolNames = {};
  for (const p of pools.data?.projects ?? []) poolNames[p.id] = p.name;
  const jobs = useLoad(() => api.get("/jobs"), [], { everyMs: 10000 });
  return html`<h1>${t("nav.tasks")}</h1>
    <h2>${t("jobs.title")}</h2>
    <${ErrorLine} message=${jobs.error} />
    ${jobs.data ? html`<${Jobs} jobs=${jobs.data.jobs} />` : null}
    <h2>${t("tasks.recent")}</h2>
    <p><button type="button" class="secondary" onClick=${reload}>${t("action.refresh")}</button></p>
    <${ErrorLine} message=${error} />
    <${Loading} when=${loading && !data} />
    ${data ? html`<${TaskTable} tasks=${data.tasks} poolNames=${poolNames} />` : null}`;
}
