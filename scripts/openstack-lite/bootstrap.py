#!/usr/bin/python3
"""Seeds openstack-lite over the REST APIs, in one Python process (the `openstack` CLI costs
about 2 s of start-up per call). Every step finds before it creates, so it can run again.

  bootstrap.py identity   service project and users, roles, the catalog
  bootstrap.py resources  flavors, an image, networks, router, demo domain; waits for the
                          compute host and the volume service; writes clouds.yaml
"""

import os
import sys
import time

from keystoneauth1 import session as ks_session
from keystoneauth1.exceptions import http as ks_http
from keystoneauth1.identity import v3

STATE = os.environ["OSL_STATE_DIR"]
HOST = os.environ.get("OSL_HOST", "127.0.0.1")
AUTH_URL = f"http://{HOST}:5000/v3"
ADMIN_PASSWORD = os.environ["ADMIN_PASSWORD"]
SERVICE_PASSWORD = os.environ["SERVICE_PASSWORD"]
DEMO_PASSWORD = os.environ["DEMO_PASSWORD"]
RS_PASSWORD = os.environ["RS_PASSWORD"]
REGION = "RegionOne"

CATALOG = [
    # type, name, URL
    ("compute", "nova", f"http://{HOST}:8774/v2.1"),
    ("placement", "placement", f"http://{HOST}:8778"),
    ("network", "neutron", f"http://{HOST}:9696"),
    ("volumev3", "cinderv3", f"http://{HOST}:8776/v3/$(project_id)s"),
    ("block-storage", "cinder", f"http://{HOST}:8776/v3/$(project_id)s"),
    ("image", "glance", f"http://{HOST}:9292"),
]
SERVICE_USERS = ["nova", "neutron", "cinder", "glance", "placement"]
# Accounts a test run must not lock out or expire.
PROTECTED = {"ignore_lockout_failure_attempts": True, "ignore_password_expiry": True}
FLAVORS = [
    # id, name, vcpus, ram MB, disk GB
    ("1", "m1.tiny", 1, 512, 1),
    ("2", "m1.small", 1, 2048, 20),
    ("3", "m1.medium", 2, 4096, 40),
    ("4", "m1.large", 4, 8192, 80),
]
IMAGE_NAME = "openstack-lite-tiny"


def log(msg):
    print(f"[bootstrap {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def admin_session():
    auth = v3.Password(
        auth_url=AUTH_URL,
        username="admin",
        password=ADMIN_PASSWORD,
        user_domain_name="Default",
        project_name="admin",
        project_domain_name="Default",
    )
    return ks_session.Session(auth=auth)


class Api:
    """Raw JSON calls to one service, endpoint from the catalog (or given)."""

    def __init__(self, sess, service_type, endpoint=None, headers=None):
        self.sess = sess
        self.filter = {"service_type": service_type, "interface": "public", "region_name": REGION}
        self.endpoint = endpoint
        self.headers = headers or {}

    def call(self, method, path, **kw):
        kw.setdefault("raise_exc", True)
        headers = {**self.headers, **kw.pop("headers", {})}
        if self.endpoint:
            url = self.endpoint + path
            return self.sess.request(url, method, headers=headers, **kw)
        return self.sess.request(path, method, endpoint_filter=self.filter, headers=headers, **kw)

    def get(self, path, **kw):
        return self.call("GET", path, **kw).json()

    def post(self, path, body, **kw):
        r = self.call("POST", path, json=body, **kw)
        return r.json() if r.content else None

    def put(self, path, body=None, **kw):
        r = self.call("PUT", path, json=body, **kw) if body is not None else self.call("PUT", path, **kw)
        return r.json() if r.content else None


def one(items, what):
    if len(items) > 1:
        raise SystemExit(f"more than one {what}: {[i.get('id') for i in items]}")
    return items[0] if items else None


# ---------------------------------------------------------------- identity
def ensure_domain(ks, name, description):
    found = one(ks.get("/domains", params={"name": name})["domains"], f"domain {name}")
    if found:
        return found
    log(f"domain {name}")
    return ks.post("/domains", {"domain": {"name": name, "description": description}})["domain"]


def ensure_project(ks, name, domain_id, description=""):
    found = one(
        ks.get("/projects", params={"name": name, "domain_id": domain_id})["projects"], f"project {name}"
    )
    if found:
        return found
    log(f"project {name}")
    body = {"project": {"name": name, "domain_id": domain_id, "description": description}}
    return ks.post("/projects", body)["project"]


def ensure_role(ks, name):
    found = one(ks.get("/roles", params={"name": name})["roles"], f"role {name}")
    if found:
        return found
    log(f"role {name}")
    return ks.post("/roles", {"role": {"name": name}})["role"]


def ensure_user(ks, name, domain_id, password, options=None, default_project_id=None):
    """Creates a user with its password; an existing user's password is never reset (that
    would revoke its tokens on a running stack)."""
    found = one(ks.get("/users", params={"name": name, "domain_id": domain_id})["users"], f"user {name}")
    if found:
        return found
    log(f"user {name}")
    user = {"name": name, "domain_id": domain_id, "password": password, "enabled": True}
    if options:
        user["options"] = options
    if default_project_id:
        user["default_project_id"] = default_project_id
    return ks.post("/users", {"user": user})["user"]


def ensure_group(ks, name, domain_id, description=""):
    found = one(ks.get("/groups", params={"name": name, "domain_id": domain_id})["groups"], f"group {name}")
    if found:
        return found
    log(f"group {name}")
    return ks.post("/groups", {"group": {"name": name, "domain_id": domain_id, "description": description}})[
        "group"
    ]


def grant(ks, project_id, role_id, user_id=None, group_id=None):
    who = f"/users/{user_id}" if user_id else f"/groups/{group_id}"
    ks.put(f"/projects/{project_id}{who}/roles/{role_id}")


def identity(sess):
    ks = Api(sess, "identity", endpoint=AUTH_URL)
    default = ks.get("/domains/default")["domain"]
    roles = {name: ensure_role(ks, name) for name in ("admin", "member", "reader", "service")}
    admin_user = one(ks.get("/users", params={"name": "admin", "domain_id": "default"})["users"], "admin")
    admin_project = one(ks.get("/projects", params={"name": "admin", "domain_id": "default"})["projects"], "admin")
    # Options only: no password change, so no token revocation.
    ks.call("PATCH", f"/users/{admin_user['id']}", json={"user": {"options": PROTECTED}})
    # The admin role on the system (keystone-manage bootstrap grants it too since Rocky; said
    # here so that system-scoped admin tokens, rs-server's cloud admins, never depend on it).
    ks.put(f"/system/users/{admin_user['id']}/roles/{roles['admin']['id']}")

    service = ensure_project(ks, "service", default["id"], "OpenStack services")
    for name in SERVICE_USERS:
        user = ensure_user(ks, name, default["id"], SERVICE_PASSWORD, PROTECTED)
        grant(ks, service["id"], roles["admin"]["id"], user_id=user["id"])
        grant(ks, service["id"], roles["service"]["id"], user_id=user["id"])

    # rs-server's own account: admin on the admin project (it manages projects, users, servers).
    rs = ensure_user(ks, "rs-server", default["id"], RS_PASSWORD, PROTECTED, admin_project["id"])
    grant(ks, admin_project["id"], roles["admin"]["id"], user_id=rs["id"])

    services = ks.get("/services")["services"]
    endpoints = ks.get("/endpoints")["endpoints"]
    for stype, name, url in CATALOG:
        svc = next((s for s in services if s["type"] == stype), None)
        if not svc:
            log(f"service {stype} ({name})")
            svc = ks.post("/services", {"service": {"type": stype, "name": name, "enabled": True}})["service"]
        have = {e["interface"] for e in endpoints if e["service_id"] == svc["id"]}
        for interface in ("public", "internal", "admin"):
            if interface not in have:
                body = {"endpoint": {"service_id": svc["id"], "interface": interface, "url": url, "region_id": REGION}}
                ks.post("/endpoints", body)
    log("identity: service users, rs-server account and catalog in place")


# ---------------------------------------------------------------- resources
def wait(what, check, timeout, interval=1.0):
    deadline = time.time() + timeout
    while True:
        try:
            value = check()
        except (ks_http.HttpError, ks_http.ServiceUnavailable) as err:
            value = None
            last = err
        else:
            last = value
        if value:
            return value
        if time.time() > deadline:
            raise SystemExit(f"gave up waiting for {what}: {last}")
        time.sleep(interval)


def flavors(nova):
    have = {f["id"] for f in nova.get("/flavors", params={"is_public": "None"})["flavors"]}
    for fid, name, vcpus, ram, disk in FLAVORS:
        if fid not in have:
            log(f"flavor {name}")
            nova.post("/flavors", {"flavor": {"id": fid, "name": name, "vcpus": vcpus, "ram": ram, "disk": disk}})


def image(glance):
    found = glance.get("/v2/images", params={"name": IMAGE_NAME})["images"]
    if any(i["status"] == "active" for i in found):
        return
    for stale in found:  # an upload cut short by an earlier run
        glance.call("DELETE", f"/v2/images/{stale['id']}")
    log(f"image {IMAGE_NAME}")
    img = glance.post(
        "/v2/images",
        {
            "name": IMAGE_NAME,
            "disk_format": "raw",
            "container_format": "bare",
            "visibility": "public",
            "min_disk": 0,
            "min_ram": 0,
        },
    )
    # The fake hypervisor never reads it: a mebibyte of zeros is a disk as good as any.
    glance.call(
        "PUT",
        f"/v2/images/{img['id']}/file",
        data=b"\0" * (1 << 20),
        headers={"Content-Type": "application/octet-stream"},
    )
    wait("the image to be active", lambda: glance.get(f"/v2/images/{img['id']}")["status"] == "active", 60)


def ensure_network(neutron, name, body):
    found = one(neutron.get("/v2.0/networks", params={"name": name})["networks"], f"network {name}")
    if found:
        return found
    log(f"network {name}")
    return neutron.post("/v2.0/networks", {"network": {"name": name, **body}})["network"]


def ensure_subnet(neutron, network_id, name, body):
    found = one(
        neutron.get("/v2.0/subnets", params={"name": name, "network_id": network_id})["subnets"],
        f"subnet {name}",
    )
    if found:
        return found
    log(f"subnet {name}")
    return neutron.post("/v2.0/subnets", {"subnet": {"name": name, "network_id": network_id, **body}})["subnet"]


def networks(neutron):
    public = ensure_network(
        neutron,
        "public",
        {
            "router:external": True,
            "provider:network_type": "flat",
            "provider:physical_network": "public",
            "shared": False,
        },
    )
    ensure_subnet(
        neutron,
        public["id"],
        "public-subnet",
        {
            "ip_version": 4,
            "cidr": "203.0.113.0/24",
            "gateway_ip": "203.0.113.1",
            "allocation_pools": [{"start": "203.0.113.10", "end": "203.0.113.250"}],
            "enable_dhcp": False,
        },
    )
    # Shared, so that servers of any project (rs-server's pools) can boot on it.
    private = ensure_network(neutron, "private", {"shared": True})
    subnet = ensure_subnet(
        neutron,
        private["id"],
        "private-subnet",
        {
            "ip_version": 4,
            "cidr": "10.10.0.0/22",
            "gateway_ip": "10.10.0.1",
            "enable_dhcp": True,
            "dns_nameservers": [],
        },
    )
    router = one(neutron.get("/v2.0/routers", params={"name": "router1"})["routers"], "router router1")
    if not router:
        log("router router1")
        router = neutron.post(
            "/v2.0/routers",
            {"router": {"name": "router1", "external_gateway_info": {"network_id": public["id"]}}},
        )["router"]
    ports = neutron.get(
        "/v2.0/ports", params={"device_id": router["id"], "device_owner": "network:router_interface"}
    )["ports"]
    if not any(ip["subnet_id"] == subnet["id"] for p in ports for ip in p["fixed_ips"]):
        log("router1 interface on private-subnet")
        neutron.put(f"/v2.0/routers/{router['id']}/add_router_interface", {"subnet_id": subnet["id"]})


def demo(ks):
    roles = {r["name"]: r for r in ks.get("/roles")["roles"]}
    domain = ensure_domain(ks, "demo", "openstack-lite demo domain")
    project = ensure_project(ks, "demo", domain["id"], "openstack-lite demo project")
    user = ensure_user(ks, "demo", domain["id"], DEMO_PASSWORD, default_project_id=project["id"])
    users = ensure_group(ks, "demo-users", domain["id"], "members of the demo project")
    admins = ensure_group(ks, "demo-admins", domain["id"], "admins of the demo project")
    ks.put(f"/groups/{users['id']}/users/{user['id']}")
    grant(ks, project["id"], roles["member"]["id"], group_id=users["id"])
    grant(ks, project["id"], roles["admin"]["id"], group_id=admins["id"])
    grant(ks, project["id"], roles["member"]["id"], user_id=user["id"])


# Services start.sh (re)started in this run must have reported since then: an "up" from a
# heartbeat of the previous run lasts service_down_time (60 s) after it died.
STARTED = set(os.environ.get("OSL_STARTED", "").split())
SINCE = os.environ.get("OSL_SINCE", "")


def reported(service, binary):
    return service["binary"] != binary or binary not in STARTED or (service.get("updated_at") or "")[:19] >= SINCE


def compute_host(nova):
    def ready():
        svcs = nova.get("/os-services", params={"binary": "nova-compute"})["services"]
        if not any(s["state"] == "up" and reported(s, "nova-compute") for s in svcs):
            return None
        hv = nova.get("/os-hypervisors")["hypervisors"]
        return hv if any(h.get("state") == "up" and h.get("status") == "enabled" for h in hv) else None

    # nova-scheduler maps new hosts every 2 s (discover_hosts_in_cells_interval).
    wait("the compute host to be mapped", ready, 180, 2)


def placement_inventory(placement):
    def ready():
        rps = placement.get("/resource_providers")["resource_providers"]
        for rp in rps:
            inv = placement.get(f"/resource_providers/{rp['uuid']}/inventories")["inventories"]
            if "VCPU" in inv:
                return True
        return False

    wait("the compute host's inventory in Placement", ready, 180, 2)


def volume_service(cinder):
    def ready():
        svcs = cinder.get("/os-services", params={"binary": "cinder-volume"})["services"]
        return any(s["state"] == "up" and s["status"] == "enabled" and reported(s, "cinder-volume") for s in svcs)

    wait("cinder-volume to be up", ready, 120, 2)


def write_clouds():
    def cloud(username, password, project, domain):
        return (
            f"    auth:\n"
            f"      auth_url: http://{HOST}:5000/v3\n"
            f"      username: {username}\n"
            f'      password: "{password}"\n'
            f"      project_name: {project}\n"
            f"      user_domain_name: {domain}\n"
            f"      project_domain_name: {domain}\n"
            f"    region_name: {REGION}\n"
            f"    interface: public\n"
            f"    identity_api_version: 3\n"
        )

    text = (
        "# Written by scripts/openstack-lite/start.sh\n"
        "clouds:\n"
        "  openstack-lite:\n" + cloud("admin", ADMIN_PASSWORD, "admin", "Default")
        + "  openstack-lite-rs-server:\n" + cloud("rs-server", RS_PASSWORD, "admin", "Default")
        + "  openstack-lite-demo:\n" + cloud("demo", DEMO_PASSWORD, "demo", "demo")
    )
    path = os.path.join(STATE, "clouds.yaml")
    with open(path + ".tmp", "w") as f:
        f.write(text)
    os.chmod(path + ".tmp", 0o600)
    os.replace(path + ".tmp", path)

    settings = f"""\
openstack-lite is up ({STATE})
  clouds.yaml:         {path}  (clouds: openstack-lite = admin, openstack-lite-rs-server, openstack-lite-demo)
  contract suite:      RS_CONTRACT_CLOUD={path}#openstack-lite RS_CONTRACT_KEYSTONE=totp,lockout=5,unique_passwords=3
  Keystone:            http://{HOST}:5000/v3  (region {REGION})
  admin:               admin / {ADMIN_PASSWORD}  (domain Default, project admin)
  rs-server account:   rs-server / {RS_PASSWORD}  (domain Default, admin on project admin)
  demo user:           demo / {DEMO_PASSWORD}  (domain demo, project demo, group demo-users)
  image, flavors:      {IMAGE_NAME}; {", ".join(f[1] for f in FLAVORS)}
  networks:            private (10.10.0.0/22, shared, routed) and public (external, floating IPs 203.0.113.0/24)
  logs:                {STATE}/log   stop: scripts/openstack-lite/stop.sh
"""
    with open(os.path.join(STATE, "settings.txt"), "w") as f:
        f.write(settings)


def resources(sess):
    ks = Api(sess, "identity", endpoint=AUTH_URL)
    nova = Api(sess, "compute", headers={"OpenStack-API-Version": "compute 2.53", "X-OpenStack-Nova-API-Version": "2.53"})
    glance = Api(sess, "image")
    neutron = Api(sess, "network")
    placement = Api(sess, "placement", headers={"OpenStack-API-Version": "placement 1.0"})
    cinder = Api(sess, "volumev3")
    marker = os.path.join(STATE, "run", "bootstrap-resources.done")
    if not os.path.exists(marker):
        flavors(nova)
        image(glance)
        networks(neutron)
        demo(ks)
        open(marker, "w").close()
    compute_host(nova)
    placement_inventory(placement)
    volume_service(cinder)
    log("compute host mapped, inventory in Placement, cinder-volume up")
    write_clouds()


def main():
    phase = sys.argv[1] if len(sys.argv) > 1 else ""
    if phase not in ("identity", "resources"):
        raise SystemExit(__doc__)
    sess = admin_session()
    {"identity": identity, "resources": resources}[phase](sess)


if __name__ == "__main__":
    main()
