"""Release and edge tasks: publish the images, deploy the stack, service operations, HAProxy."""

from __future__ import annotations

from collections.abc import Sequence
from ipaddress import IPv4Network

import requests
from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE
from pydantic import SecretStr

from swarmlab.release import deploy as dep
from swarmlab.release import edge, keepalived, services
from swarmlab.hosts.engine import engine_connector, registry_route
from swarmlab.cloud.fleet import Fleet
from swarmlab.hosts import HostUnreachable, wait_reachable
from swarmlab.cloud.inventory import Inventory
from swarmlab.release.service_facts import strip_digest
from swarmlab.release.blobs import GZIP_LEVEL, LOCAL_GZIP_LEVEL, BlobCache
from swarmlab.release.publish import PublishResult, image_builds, publish
from swarmlab.render.stack import StackImages
from swarmlab.spec import LabSpec, Role
from tasks.retry import SSH_RETRY, retry_on

#: publish may start while apt runs on the builder (build_lab overlaps them): an upgrade that restarts
#: dockerd, or a reboot, drops the engine connection mid-build. Worth another try; a failed build is not.
ENGINE_DROPPED = (HostUnreachable, requests.ConnectionError, requests.exceptions.ChunkedEncodingError)
PUBLISH_RETRY = dict(retries=2, retry_delay_seconds=[5, 20], cache_policy=NO_CACHE,
                     retry_condition_fn=retry_on(*ENGINE_DROPPED))


def _log():
    logger = get_run_logger()
    return lambda m: logger.info("%s", m)


@task(name="publish-images", task_run_name="publish-images-on-{builder}", **PUBLISH_RETRY)
def publish_images(fleet: Fleet, builder: str, inventory: Inventory, password: SecretStr,
                   variants: Sequence[tuple[str, str]] = (), engine: str = "ssh",
                   base: str | None = None) -> PublishResult:
    """Build + push app, web, postgres (and `variants`) unless the registry has their tags.

    engine "ssh": build on `builder`'s engine (SSH dial-stdio). "local": the controller's engine and its
    build cache; the layers are compressed once on this machine (`BlobCache`, `.state/blobs`; stored without
    deflate for a registry on this machine's lab segment) and pushed over the registry's HTTP API, by name, or
    through a relay when only the lab resolves it (`swarmlab.hosts.engine.registry_route`).
    """
    if engine not in ("ssh", "local"):
        raise ValueError(f"engine must be 'ssh' (a manager's engine through SSH) or 'local', not {engine!r}")
    builds = image_builds(inventory.registry_fqdn, variants=variants, base=base)
    # a connection of its own: the fleet's session may be busy with other tasks
    session = wait_reachable(fleet.hosts[builder], fleet.key, fleet.known_hosts, timeout_s=fleet.timeout_s)
    try:
        if engine == "local":
            with registry_route(inventory.registry_fqdn, 443, session) as route, \
                    engine_connector(None, engine="local") as connect:
                cache = BlobCache(level=LOCAL_GZIP_LEVEL if route.lan else GZIP_LEVEL)
                return publish(connect, builds, inventory.registry_user, password, push_via=route.via,
                               cache=cache, log=_log())
        with engine_connector(session, engine=engine) as connect:
            return publish(connect, builds, inventory.registry_user, password, log=_log())
    finally:
        session.close()


@task(name="deploy-stack", task_run_name="deploy-stack-from-{manager}", **SSH_RETRY)
def deploy_stack(fleet: Fleet, manager: str, spec: LabSpec, images: StackImages, db_password: SecretStr,
                 timeout_s: float = dep.DEPLOY_TIMEOUT_S) -> dep.DeployResult:
    return dep.deploy_stack(fleet.session(manager), spec, fleet.inventory.private_ips, images, db_password,
                            timeout_s=timeout_s, log=_log())


@task(name="configure-edge", task_run_name="configure-edge-{name}", **SSH_RETRY)
def configure_edge(fleet: Fleet, name: str, spec: LabSpec) -> list[str]:
    """HAProxy on `name`; on an `edge: pair`, then keepalived (its check asks this HAProxy)."""
    session = fleet.session(name)
    changes = edge.configure(session, spec, fleet.inventory.private_ips)
    if spec.edge == "pair":
        me = next(s for s in spec.haproxies if spec.server_name(s) == name)
        changes += keepalived.configure(session, spec, me, IPv4Network(fleet.inventory.router_block))
    return changes


@task(name="verify-edge", task_run_name="verify-edge-{address}", cache_policy=NO_CACHE)
def verify_edge(address: str, timeout_s: float = edge.VERIFY_TIMEOUT_S) -> None:
    edge.verify(address, timeout_s=timeout_s)


@task(name="service-image", task_run_name="service-image-{service}", cache_policy=NO_CACHE)
def service_image(fleet: Fleet, manager: str, service: str) -> str:
    """The image `service` runs (its spec's, without the digest), read on `manager`."""
    return strip_digest(services.observe_service(fleet.session(manager), service).inspect.image)


@task(name="stack-status", cache_policy=NO_CACHE)
def stack_status(fleet: Fleet, manager: str, spec: LabSpec) -> dep.StackStatus:
    return dep.observe(fleet.session(manager), spec)


@task(name="service-ops", task_run_name="service-ops-{name}", cache_policy=NO_CACHE)
def service_ops(fleet: Fleet, manager: str, spec: LabSpec, name: str, image: str, image2: str, port: int,
                timeout_s: float = services.STEP_TIMEOUT_S) -> list[services.StepResult]:
    ips = {s.name: s.private_ip for s in fleet.inventory.by_role(Role.worker)}
    return services.exercise(fleet.session(manager), name, image, image2, port=services.Port(published=port, target=80),
                             node_ips=ips, timeout_s=timeout_s, log=_log())
