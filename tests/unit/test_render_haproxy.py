"""render_haproxy: golden files, structure, and the real `haproxy -c`.

`haproxy -c` parses and validates without binding, so the stats `bind` on the HAProxy server's private
address (not on this host) passes. Regenerate golden files deliberately with SWARMLAB_REGEN_GOLDEN=1.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from swarmlab.render.haproxy import render_haproxy
from swarmlab.spec import Role, ServerSpec, local, seed
from tests.unit.test_render_stack import _golden


def ips(spec) -> dict[str, str]:
    """What provision's inventory holds for `spec`: every server at its spec address."""
    return {spec.server_name(s): str(s.private_ip) for s in spec.servers}


def haproxy_check(text: str, tmp_path: Path) -> subprocess.CompletedProcess:
    haproxy = shutil.which("haproxy") or ("/usr/sbin/haproxy" if Path("/usr/sbin/haproxy").exists() else None)
    assert haproxy, "haproxy is not installed (scripts/bootstrap.sh installs it)"
    cfg = tmp_path / "haproxy.cfg"
    cfg.write_text(text)
    return subprocess.run([haproxy, "-c", "-f", str(cfg)], capture_output=True, text=True, timeout=60)


def _section(text: str, header: str) -> list[str]:
    lines = text.splitlines()
    start = lines.index(header)
    out = []
    for line in lines[start + 1:]:
        if not line.startswith("    "):
            break
        out.append(line.strip())
    return out


@pytest.mark.parametrize("profile", ["seed", "local"])
def test_golden(profile):
    spec = seed() if profile == "seed" else local()
    _golden(f"haproxy-{profile}.cfg", render_haproxy(spec, ips(spec)))


@pytest.mark.parametrize("profile", ["seed", "local"])
def test_passes_haproxy_check(profile, tmp_path):
    spec = seed() if profile == "seed" else local()
    r = haproxy_check(render_haproxy(spec, ips(spec)), tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "Configuration file is valid" in r.stdout + r.stderr
    assert "WARNING" not in r.stdout + r.stderr


def test_haproxy_check_really_checks(tmp_path):
    broken = render_haproxy(seed(), ips(seed())).replace("check inter 1s", "chek inter 1s", 1)
    r = haproxy_check(broken, tmp_path)
    assert r.returncode != 0 and "unknown keyword 'chek'" in r.stderr


def test_structure():
    spec = seed()
    text = render_haproxy(spec, ips(spec))
    defaults = _section(text, "defaults")
    for line in ("timeout connect 1s", "timeout client 30s", "timeout server 10s", "option redispatch 1",
                 "retries 3", "retry-on conn-failure empty-response response-timeout", "option http-server-close",
                 "mode http"):
        assert line in defaults
    assert _section(text, "frontend fe_web") == ["bind *:80", "default_backend be_web"]
    assert _section(text, "frontend fe_app") == ["bind *:8000", "default_backend be_app"]
    for backend, port, path in (("be_web", 80, "/healthz"), ("be_app", 8000, "/livez")):
        body = _section(text, f"backend {backend}")
        assert body[:4] == ["balance roundrobin", f"option httpchk GET {path}", "http-check expect status 200",
                            "http-request disable-l7-retry unless METH_GET"]
        servers = [line for line in body if line.startswith("server ")]
        assert servers == [f"server {spec.server_name(w)} {w.private_ip}:{port} check inter 1s fall 2 rise 2 "
                           "observe layer4 error-limit 1 on-error mark-down"
                           for w in spec.workers]
    stats = _section(text, "listen stats")
    assert stats[0] == "bind 192.168.1.40:8404"
    assert {"stats uri /stats", "stats refresh 5s"} <= set(stats)
    assert not re.search(r"bind \*:8404|bind 0\.0\.0\.0:8404", text)
    # it would kill the requests still connecting to a dead worker (they would otherwise be retried)
    assert "shutdown-sessions" not in text


def test_follows_the_spec():
    servers = [ServerSpec(role=Role.manager, index=1, private_ip="10.9.0.11"),
               ServerSpec(role=Role.worker, index=1, private_ip="10.9.0.21"),
               ServerSpec(role=Role.worker, index=2, private_ip="10.9.0.22"),
               ServerSpec(role=Role.haproxy, index=1, private_ip="10.9.0.5")]
    spec = local(name="lab2", subnet="10.9.0.0/24", servers=servers)
    text = render_haproxy(spec, ips(spec))
    assert "bind 10.9.0.5:8404" in text
    assert "server lab2-worker01 10.9.0.21:80 check" in text
    assert "server lab2-worker02 10.9.0.22:8000 check" in text
    assert "192.168.1." not in text and "manager" not in text
    assert render_haproxy(spec, ips(spec)) == text


def test_addresses_come_from_the_inventory_not_the_spec():
    spec = seed()
    moved = {n: ip.replace("192.168.1.", "10.8.0.") for n, ip in ips(spec).items()}
    text = render_haproxy(spec, moved)
    assert "bind 10.8.0.40:8404" in text and "server swarmlab-worker01 10.8.0.30:80 check" in text
    assert "192.168.1." not in text


def test_a_pair_closes_client_connections_and_each_side_binds_its_own_stats_address(tmp_path):
    spec = seed(edge="pair")
    one, two = (render_haproxy(spec, ips(spec), spec.server_name(h)) for h in spec.haproxies)
    assert "bind 192.168.1.40:8404" in one and "bind 192.168.1.41:8404" in two
    for text in (one, two):
        assert "option httpclose" in _section(text, "frontend fe_web") and \
            "option httpclose" in _section(text, "frontend fe_app")
        r = haproxy_check(text, tmp_path)
        assert r.returncode == 0 and "WARNING" not in r.stdout + r.stderr, r.stdout + r.stderr
    assert "httpclose" not in render_haproxy(seed(), ips(seed())), "a single edge keeps client keep-alive"
