// The OpenAPI schemas of the TRS project routes (admin/projects.ts): request bodies, queries
// and answers with their descriptions and examples, apart from the handlers they describe.
import { Type as T } from "@sinclair/typebox";
import { projectKeys as drainKeys } from "./drain-schemas.ts";
import { PageLinks, pagingQuery } from "./paged.ts";
import { SessionPolicyInput, SessionPolicyOutput, sessionPolicyExample } from "./session-policy.ts";
import { errors, Id, LenientBool, NoContent, Timestamp } from "./wire.ts";

export const NullableString = (description: string) =>
  T.Union([T.String({ maxLength: 255 }), T.Null()], { description });
export const OperationMode = T.Union(
  [T.String({ enum: ["1", "2"] }), T.Integer({ minimum: 1, maximum: 2 })],
  {
    description: 'Operating mode: "1" Standard (one user per instance), "2" Simultaneous (shared instances).',
  },
);
export const Tags = T.Union(
  [T.Array(T.String({ minLength: 1, maxLength: 255 }), { maxItems: 80 }), T.String()],
  {
    description: "Keystone project tags (a list, or a comma-separated string); `trs` is always added.",
  },
);

export const ReserveWindow = T.Object(
  {
    days: T.Array(T.String({ enum: ["mon", "tue", "wed", "thu", "fri", "sat", "sun"] }), {
      minItems: 1,
      maxItems: 7,
      description: "Days of the week the window opens (in its time zone).",
    }),
    start: T.String({ description: "Local opening time, HH:MM." }),
    end: T.String({ description: "Local closing time, HH:MM (24:00 allowed; before start: past midnight)." }),
    time_zone: T.String({ maxLength: 64, description: "IANA time zone, e.g. Europe/Paris." }),
    target: T.Integer({ minimum: 0, maximum: 10000, description: "Free instances kept while it is open." }),
    max_instances: T.Optional(
      T.Union([T.Integer({ minimum: 1, maximum: 10000 }), T.Null()], {
        description: "Most live instances of the project while it is open (null: no cap).",
      }),
    ),
  },
  { additionalProperties: false },
);

export const ReserveScheduleBody = T.Union(
  [
    T.Object(
      {
        windows: T.Array(ReserveWindow, { maxItems: 50 }),
        holidays: T.Optional(
          T.Array(T.String({ description: "YYYY-MM-DD" }), {
            maxItems: 1000,
            description: "Dates (in each window's time zone) on which no window opens.",
          }),
        ),
      },
      { additionalProperties: false },
    ),
    T.Null(),
  ],
  {
    description:
      "Extension: the reserve's windows; outside every window min_reserve_vm holds (null or no windows: always). See docs/operations.md.",
  },
);

export const settingsFields = {
  network_id: T.Optional(NullableString("Network id (Neutron) the instances are attached to.")),
  availability_zone: T.Optional(NullableString("Availability zone of the instances (default from config).")),
  operation_mode: T.Optional(OperationMode),
  max_users_per_instance: T.Optional(
    T.Union([T.Integer({ minimum: 1, maximum: 10000 }), T.Null()], {
      description: "Extension: most users of one instance in Simultaneous mode (null: unlimited).",
    }),
  ),
  instance_init_script: T.Optional(
    T.Union([T.String({ maxLength: 65535 }), T.Null()], {
      description: "Base64 script passed to Nova as user_data of every instance of the project.",
    }),
  ),
  min_reserve_vm: T.Optional(
    T.Integer({ minimum: 0, maximum: 10000, description: "Free instances kept ready." }),
  ),
  instance_name_pattern: T.Optional(
    T.String({
      minLength: 1,
      maxLength: 245,
      description: "Instance name pattern; runs of * are a counter.",
    }),
  ),
  user_volume_enabled: T.Optional(LenientBool("Create and attach a personal volume per user.")),
  volume_size: T.Optional(
    T.Union([T.Integer({ minimum: 1, maximum: 1000000 }), T.Null()], {
      description: "User volume size, GB.",
    }),
  ),
  volume_type_id: T.Optional(NullableString("Volume type of user volumes.")),
  console_port: T.Optional(
    T.Union([T.Integer({ minimum: 1, maximum: 65535 }), T.Null()], {
      description:
        "Extension: the desktops' VNC port the web desktop's gateway reaches (null: console.defaultPort).",
    }),
  ),
  console_kind: T.Optional(
    T.Union([T.Literal("gateway"), T.Literal("nova-novnc"), T.Literal("nova-spice")], {
      description:
        "Extension: how conn_type web opens a desktop: gateway (the broker bridges to the VNC port), " +
        "nova-novnc or nova-spice (Nova's own console proxy). See docs/web-desktop.md.",
    }),
  ),
  session_policy: SessionPolicyInput,
  reserve_schedule: T.Optional(ReserveScheduleBody),
};

export const keystoneFields = {
  enabled: T.Optional(LenientBool("Project enabled.")),
  description: T.Optional(T.String({ maxLength: 65535, description: "Project description." })),
  tags: T.Optional(Tags),
  domain_id: T.Optional(Id("Project domain id (default: the configured domain).")),
};

export const CreateBody = T.Object(
  {
    project: T.Object({
      name: T.String({ minLength: 1, maxLength: 64, description: "Project name, unique within the domain." }),
      flavor_id: Id("Flavor of the instances."),
      image_id: Id("Image of the instances."),
      parent_id: T.Optional(Id("Parent project or domain id.")),
      is_domain: T.Optional(LenientBool("The project acts as a domain.")),
      ...keystoneFields,
      ...settingsFields,
    }),
  },
  {
    examples: [
      {
        project: {
          name: "test_proj",
          enabled: "True",
          description: "Test Project_2",
          domain_id: "default",
          flavor_id: "25a8679f-582a-4f7c-b9c2-286a60bedb76",
          image_id: "bdd277be-ebf3-4ff7-8c05-c6f20cbddd61",
          network_id: "39523179-37b5-4fd7-bf14-a1f7134a6b1f",
          operation_mode: "2",
          availability_zone: "nova",
        },
      },
    ],
  },
);

export const UpdateBody = T.Object(
  {
    project: T.Object({
      name: T.Optional(T.String({ minLength: 1, maxLength: 64, description: "Project name." })),
      flavor_id: T.Optional(Id("Flavor of the instances.")),
      image_id: T.Optional(Id("Image of the instances.")),
      ...keystoneFields,
      ...settingsFields,
    }),
  },
  {
    examples: [
      {
        project: {
          name: "new name",
          enabled: "False",
          description: "Test Project_2",
          availability_zone: "nova",
          instance_init_script: "IyEvYmluL3NoCmVjaG8gJ0hlbGxvIGZyb20gdGhlIGRldiB0ZWFtISc=",
        },
      },
    ],
  },
);

export const Reserve = T.Object(
  {
    state: T.String({
      description:
        "ok, quota (Nova quota leaves less room than the target), throttled (the global cap of builds), backoff (builds keep failing), blocked (no network).",
    }),
    message: T.Union([T.String(), T.Null()], { description: "Why the reserve is not full, when it is not." }),
    failures: T.Integer({
      description: "Failed build attempts since the reserve was last full of ACTIVE instances.",
    }),
    backoff_until: Timestamp("No instance is created for the reserve before this time."),
    target: T.Integer({
      description:
        "The target in effect: the open (or, within reserve.leadSeconds, opening) window's of reserve_schedule, else min_reserve_vm.",
    }),
    next_change: T.Union(
      [
        T.Object({
          at: T.String({ description: "When the target in effect changes (UTC)." }),
          target: T.Integer({ description: "The target from then." }),
        }),
        T.Null(),
      ],
      { description: "The next change of the target in effect (null: none within nine days)." },
    ),
    ready: T.Integer({
      description:
        "Free ACTIVE instances that are ready (ACTIVE plus the boot grace, or their port answered).",
    }),
    free: T.Integer({ description: "Free instances ready to serve (ACTIVE, no user, no group)." }),
    building: T.Integer({ description: "Free instances still in BUILD." }),
    failed_builds: T.Integer({
      description: "Builds of the project's instances that failed (ERROR before they ever booted), ever.",
    }),
    last_failure: T.Union([T.String(), T.Null()], {
      description: "Nova's fault message of the last failed build (null: none failed, or Nova gave none).",
    }),
    last_failure_at: Timestamp("When the last failed build was seen."),
  },
  { description: "Extension: the state of the project's reserve, from rs-server's records." },
);

export const Project = T.Object({
  id: T.String({ description: "Project id." }),
  name: T.String({ description: "Project name." }),
  domain_id: T.String({ description: "Project domain id." }),
  image_id: T.String(),
  flavor_id: T.String(),
  network_id: T.Union([T.String(), T.Null()]),
  availability_zone: T.Union([T.String(), T.Null()]),
  operation_mode: T.String(),
  max_users_per_instance: T.Union([T.Integer(), T.Null()]),
  instance_init_script: T.Union([T.String(), T.Null()]),
  min_reserve_vm: T.Integer(),
  instance_name_pattern: T.String(),
  user_volume_enabled: T.Boolean(),
  volume_size: T.Union([T.Integer(), T.Null()]),
  volume_type_id: T.Union([T.String(), T.Null()]),
  console_port: T.Union([T.Integer(), T.Null()]),
  console_kind: T.String(),
  session_policy: SessionPolicyOutput,
  reserve_schedule: T.Optional(ReserveScheduleBody),
  os_project: T.Optional(
    T.Union([T.Object({}, { additionalProperties: true }), T.Null()], {
      description: "The Keystone project (with_os_object=true); null when Keystone no longer has it.",
    }),
  ),
  reserve: T.Optional(Reserve),
  ...drainKeys,
});

export const projectExample = {
  id: "d394da7c4d0747bd879e0e865222b3d9",
  name: "test_proj",
  domain_id: "default",
  image_id: "bdd277be-ebf3-4ff7-8c05-c6f20cbddd61",
  flavor_id: "25a8679f-582a-4f7c-b9c2-286a60bedb76",
  network_id: "39523179-37b5-4fd7-bf14-a1f7134a6b1f",
  availability_zone: "nova",
  operation_mode: "1",
  max_users_per_instance: null,
  instance_init_script: null,
  min_reserve_vm: 0,
  instance_name_pattern: "trs-**",
  user_volume_enabled: true,
  volume_size: 1,
  volume_type_id: null,
  console_port: null,
  console_kind: "gateway",
  session_policy: sessionPolicyExample,
  reserve: {
    state: "backoff",
    message:
      "2 build(s) failed: stuck in BUILD for more than 1800 s; retrying after 2024-05-06T10:16:40.000Z (failure 1)",
    failures: 1,
    backoff_until: "2024-05-06T10:16:40",
    target: 2,
    next_change: { at: "2024-05-06T16:00:00", target: 20 },
    ready: 0,
    free: 0,
    building: 0,
    failed_builds: 2,
    last_failure: "No valid host was found. There are not enough hosts available.",
    last_failure_at: "2024-05-06T10:15:40",
  },
};

export const ProjectParams = T.Object({ project_id: Id("Project id.") });

export const ListQuery = T.Object(
  {
    name: T.Optional(T.String({ description: "Project name." })),
    enabled: T.Optional(T.String({ description: "Project enabled (true/false)." })),
    domain: T.Optional(T.String({ description: "Project domain name." })),
    user: T.Optional(
      T.String({ description: "User id with a role on the project (directly or through a group)." }),
    ),
    operation_mode: T.Optional(T.String({ description: 'Operating mode, "1" or "2".' })),
    with_os_object: T.Optional(T.String({ description: "Add os_project, the Keystone project." })),
    ...pagingQuery("projects", "id", ["name", "id", "created_at"], "asc"),
    draining: T.Optional(T.String({ description: "Extension: only projects (not) draining (true/false)." })),
  },
  { additionalProperties: true },
);

export const ShowQuery = T.Object(
  { with_os_object: T.Optional(T.String({ description: "Add os_project, the Keystone project." })) },
  { additionalProperties: true },
);

export const createProject = {
  tags: ["projects"],
  summary: "Create a TRS project",
  description:
    "Creates the Keystone project (tag `trs`) and stores the pool settings. Flavor, image and network are checked first; the service account gets a role on the new project.",
  body: CreateBody,
  response: {
    200: T.Object(
      { project: T.Object({ id: T.String() }) },
      { example: { project: { id: "d394da7c4d0747bd879e0e865222b3d9" } } },
    ),
    ...errors(400, 409),
  },
};

export const updateProject = {
  tags: ["projects"],
  summary: "Edit a TRS project",
  description:
    "Keystone fields (name, enabled, description, tags) go to Keystone, pool fields are stored. Switching operation_mode from 2 to 1 is refused (409) while an instance has more than one user.",
  params: ProjectParams,
  body: UpdateBody,
  response: {
    200: T.Object({ project: Project }, { example: { project: projectExample } }),
    ...errors(400, 404, 409),
  },
};

export const listProjects = {
  tags: ["projects"],
  summary: "List TRS projects",
  description:
    "Filters: name, enabled, domain (domain name), user (a user id with a role on the project, directly or through a group), operation_mode; with_os_object adds os_project (one Keystone call for the list). Each project carries (extension) `reserve`, read for the whole list in one database query. Pages: limit, marker, sort_key (name, id, created_at), sort_dir; a next page is in the Link header (and projects_links).",
  querystring: ListQuery,
  response: {
    200: T.Object(
      { projects: T.Array(Project), projects_links: PageLinks },
      { example: { projects: [projectExample] } },
    ),
    ...errors(400),
  },
};

export const getSettings = {
  tags: ["projects"],
  summary: "TRS project defaults",
  description: "The configured default instance name pattern and availability zone.",
  response: {
    200: T.Object(
      {
        project_settings: T.Object({
          instance_name_pattern: T.String(),
          default_availability_zone: T.String(),
        }),
      },
      {
        example: {
          project_settings: { instance_name_pattern: "trs-**", default_availability_zone: "nova" },
        },
      },
    ),
    ...errors(),
  },
};

export const showProject = {
  tags: ["projects"],
  summary: "Show a TRS project",
  description:
    "The pool settings and (extension) `reserve`, the state of its reserve from rs-server's records; with_os_object=true adds os_project, the Keystone project.",
  params: ProjectParams,
  querystring: ShowQuery,
  response: {
    200: T.Object(
      { project: Project },
      {
        example: {
          project: {
            ...projectExample,
            os_project: {
              id: "d394da7c4d0747bd879e0e865222b3d9",
              name: "test_proj",
              domain_id: "default",
              enabled: true,
              is_domain: false,
              parent_id: "default",
              tags: ["trs"],
            },
          },
        },
      },
    ),
    ...errors(400, 404),
  },
};

export const projectStatistics = {
  tags: ["projects"],
  summary: "TRS project statistics",
  description:
    "created/active/error_servers count every Nova server of the project; *_trs_servers count TRS instances; free: no user, occupied: at least one user, simultaneous: more than one.",
  params: ProjectParams,
  response: {
    200: T.Object(
      {
        statistics: T.Object({
          created_servers: T.Integer(),
          active_servers: T.Integer(),
          error_servers: T.Integer(),
          created_trs_servers: T.Integer(),
          active_trs_servers: T.Integer(),
          error_trs_servers: T.Integer(),
          free_trs_servers: T.Integer(),
          occupied_trs_servers: T.Integer(),
          simultaneous_trs_servers: T.Integer(),
        }),
      },
      {
        example: {
          statistics: {
            created_servers: 10,
            active_servers: 8,
            error_servers: 1,
            created_trs_servers: 10,
            active_trs_servers: 8,
            error_trs_servers: 1,
            free_trs_servers: 2,
            occupied_trs_servers: 8,
            simultaneous_trs_servers: 4,
          },
        },
      },
    ),
    ...errors(404),
  },
};

export const autoAllocateUsers = {
  tags: ["projects"],
  summary: "Allocate free instances to users",
  description:
    "Starts a task: every user with a role on the project (directly or through a group) and no instance of it gets one free ACTIVE instance. GET /v1/tasks/{task_id} shows its result: allocated, assignments, users_without_instance.",
  params: ProjectParams,
  response: {
    200: T.Object({ task_id: T.String() }, { example: { task_id: "7c8fbc6c-468d-4afb-a292-e70a3d475edc" } }),
    ...errors(404),
  },
};

export const deleteProject = {
  tags: ["projects"],
  summary: "Delete a TRS project (extension)",
  description:
    "Deletes the pool and its Keystone project. Refused (409) while it has instances, unless force=true, which deletes them in Nova first (assignment history kept).",
  params: ProjectParams,
  querystring: T.Object(
    {
      force: T.Optional(T.String({ description: "Delete the project's instances too (true/false)." })),
    },
    { additionalProperties: true },
  ),
  response: { 204: NoContent, ...errors(400, 404, 409) },
};
