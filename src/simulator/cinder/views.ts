// Cinder v3's volume and volume type representations, with the keys each microversion adds.
import type { CinderState, VolumeRecord, VolumeTypeRecord } from "./state.ts";

type View = Record<string, unknown>;

export interface ViewOptions {
  admin: boolean;
  /** Minor part of the negotiated 3.x microversion. */
  minor: number;
  /** `${base}/volume/v3/${project}` for self links. */
  base: string;
  bookmark: string;
}

function links(v: VolumeRecord, o: ViewOptions) {
  return [
    { href: `${o.base}/volumes/${v.id}`, rel: "self" },
    { href: `${o.bookmark}/volumes/${v.id}`, rel: "bookmark" },
  ];
}

export function volumeSummary(v: VolumeRecord, o: ViewOptions): View {
  return { id: v.id, links: links(v, o), name: v.name };
}

export function volumeView(state: CinderState, v: VolumeRecord, o: ViewOptions): View {
  const type = state.types.get(v.volume_type_id);
  // Cinder lists only completed attachments; a reserved (attaching) volume shows none yet.
  const attachments =
    v.status === "in-use" || v.status === "detaching"
      ? v.attachments.map((a) => ({
          id: v.id,
          attachment_id: a.attachment_id,
          volume_id: v.id,
          server_id: a.server_id,
          host_name: a.host_name,
          device: a.device,
          attached_at: a.attached_at,
        }))
      : [];
  const view: View = {
    id: v.id,
    name: v.name,
    description: v.description,
    status: v.status,
    size: v.size,
    availability_zone: v.availability_zone,
    created_at: v.created_at,
    updated_at: v.updated_at,
    attachments,
    links: links(v, o),
    volume_type: type?.name ?? null,
    snapshot_id: null,
    source_volid: null,
    metadata: { ...v.metadata },
    user_id: v.user_id,
    bootable: String(v.bootable),
    encrypted: false,
    replication_status: null,
    consistencygroup_id: null,
    multiattach: false,
    "os-vol-tenant-attr:tenant_id": v.project_id,
  };
  if (o.admin) {
    view["os-vol-host-attr:host"] = v.status === "creating" ? null : "sim-volume@fake#fake";
    view["os-vol-mig-status-attr:migstat"] = null;
    view["os-vol-mig-status-attr:name_id"] = null;
  }
  if (o.minor >= 13) view.group_id = null;
  if (o.minor >= 21 && o.admin) view.provider_id = null;
  if (o.minor >= 48) {
    view.service_uuid = "6cf4ef0b-0b7e-4d7e-9d43-a3a8b6c4cd5a";
    view.shared_targets = false;
  }
  if (o.minor >= 61 && o.admin) view.cluster_name = null;
  if (o.minor >= 63) view.volume_type_id = v.volume_type_id;
  if (o.minor >= 65) view.consumes_quota = true;
  return view;
}

export function typeView(t: VolumeTypeRecord, admin: boolean): View {
  const view: View = {
    id: t.id,
    name: t.name,
    description: t.description,
    is_public: t.is_public,
    "os-volume-type-access:is_public": t.is_public,
    extra_specs: { ...t.extra_specs },
  };
  if (admin) view.qos_specs_id = null;
  return view;
}
