"""Golden tests: real SAKURA Cloud response bodies (libsacloud's captured fixtures, see
fixtures/sakura/README.md) through swarmlab's models, with the parsed values asserted."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from swarmlab.sakura import NFS, Archive, Conflict, Disk, Interface, Note, Server, ServiceClass, SSHKey, \
    StillCreating, Switch
from swarmlab.sakura.errors import error_for
from swarmlab.sakura.models import DiskPlan, InternetPlan, ServerPlan, parse_nfs_plans

FIXTURES = Path(__file__).parent / "fixtures" / "sakura"


def real(name: str):
    return json.loads((FIXTURES / name).read_text())


def test_server():
    s = Server.model_validate(real("server-libsacloud-v1.json"))
    assert (s.id, s.name, s.host_name) == ("999999999999", "lisacloud-test-server-name",
                                           "libsacloud-test-server-name.com")
    assert s.status == "up" and s.instance.before_status == "down"
    assert s.instance.host.name == "sac-is1b-sv053"
    assert s.instance.status_changed_at.isoformat() == "2016-04-29T18:33:40+09:00"
    assert (s.cpu, s.memory_gb, s.server_plan.id) == (1, 1, "1001")
    assert s.interface_driver == "e1000" and s.tags == ["@virtio-net-pci"] and s.service_class == "cloud/plan/1core-1gb"
    assert s.shared_ip == "133.242.224.41"
    assert [n.id for n in s.interfaces] == ["112800430558", "112800442276"]
    private = s.interfaces[1]
    assert (private.user_ip_address, private.host_name, private.is_shared) == ("192.168.200.50", "", False)
    assert private.switch.user_subnet.default_route == "192.168.200.1"
    assert [(d.id, d.size_gb, d.connection_order, d.plan.id) for d in s.disks] == [("123456789012", 20, 1, "4")]


def test_disk_in_server_listing():
    d = Disk.model_validate(real("disk-libsacloud-v1.json"))
    assert (d.id, d.availability, d.size_gb, d.connection, d.plan.id, d.server_id) == (
        "123456789012", "available", 20, "virtio", "4", None)


def test_disk_mid_copy():
    d = Disk.model_validate(real("disk-migrating-libsacloud-v1.json"))
    assert (d.availability, d.size_mb, d.migrated_mb, d.connection_order) == ("migrating", 20480, 7744, None)
    assert d.job_status["Status"] == "running" and d.copy_progress == pytest.approx(7744 / 20480)
    assert d.source_disk.id == "123456789012" and d.source_archive is None and d.server is None
    assert d.plan.name == "SSDプラン" and d.tags == ["aa", "bb", "cc"] and d.description == "aaaaa"
    assert d.service_class == "cloud/disk/ssd/20g"


@pytest.mark.parametrize("name,scope,subnet", [
    ("switch-user-libsacloud-v1.json", "user", ("192.168.200.1", 24)),
    ("switch-shared-libsacloud-v1.json", "shared", ("133.242.224.1", 24)),
])
def test_switch_as_embedded_in_a_nic(name, scope, subnet):
    sw = Switch.model_validate(real(name))
    assert (sw.id, sw.scope) == ("123456789012", scope)
    assert (sw.user_subnet.default_route, sw.user_subnet.network_mask_len) == subnet


def test_switch_full():
    sw = Switch.model_validate(real("switch-with-bridge-libsacloud-v1.json"))
    assert (sw.name, sw.server_count, sw.scope, sw.service_class) == ("すうぃっち", 1, "user", "cloud/switch/default")
    assert sw.tags == ["ほ", "ほげ", "ほげな"] and sw.created_at.year == 2016


def test_interface_with_packet_filter():
    nic = Interface.model_validate(real("interface-shared-libsacloud-v1.json"))
    assert nic.is_shared and nic.ip_address == "133.242.224.41" and nic.mac_address == "9C:A3:BA:30:E4:D0"
    pf = nic.packet_filter
    assert (pf.id, pf.name) == ("123456789012", "ほげほげ２")
    assert [(r.protocol, r.destination_port, r.action) for r in pf.expression][:2] == [
        ("tcp", "22", "allow"), ("tcp", "80", "allow")]
    assert pf.expression[4].destination_port == "32768-61000" and pf.expression[4].source_network == ""
    assert (pf.expression[-1].protocol, pf.expression[-1].action) == ("ip", "deny")
    plain = Interface.model_validate(real("interface-private-libsacloud-v1.json"))
    assert plain.packet_filter is None and plain.switch_id == "123456789012"


def test_note():
    n = Note.model_validate(real("note-libsacloud-v1.json"))
    assert (n.id, n.name, n.klass, n.scope, n.availability) == ("112800309940", "lb-dsr", "shell", "shared",
                                                                  "available")
    assert n.content.startswith("#!/bin/bash\n# @sacloud-once") and "@@@para1@@@" in n.content


def test_sys_nfs_note_plans():
    n = Note.model_validate({"ID": "112900000001", **real("note-sys-nfs-iaas-api-go-fake.json")})  # SDK seed: no ID
    plans = parse_nfs_plans(n.content)
    assert plans["HDD"][0] == {"size": 100, "availability": "available", "planId": 101}
    assert [p["planId"] for p in plans["SSD"]] == [200, 201, 202, 203, 204, 205]
    assert "@zone=is1a" in n.tags


def test_ssh_key():
    k = SSHKey.model_validate(real("sshkey-libsacloud-v1.json"))
    assert (k.id, k.name, k.public_key.split()[0]) == ("123456789012", "test_key", "ssh-rsa")
    assert k.fingerprint.count(":") == 15


def test_nfs():
    a = NFS.model_validate(real("nfs-libsacloud-v1.json"))
    assert (a.id, a.klass, a.status, a.availability) == ("112901132074", "nfs", "up", "available")
    assert a.ip == "192.168.150.101" and a.switch_id == "112900591751"
    assert a.plan.id == "100" and a.remark.plan.id == "100" and a.remark.network.network_mask_len == 24
    assert a.interfaces[0].user_ip_address == "192.168.150.101" and a.interfaces[0].host_name == ""
    assert a.service_class == "cloud/appliance/nfs/100gb" and a.tags == ["tag1", "tag2"]


def test_archive():
    a = Archive.model_validate(real("archive-libsacloud-v1.json"))
    assert (a.id, a.scope, a.availability, a.size_gb, a.plan.id) == ("112800288256", "shared", "available", 100, "2")
    assert "os-windows" in a.tags and a.display_order == 400201220002


def test_public_archives_by_zone():
    by_zone = real("archive-public-by-zone-iaas-api-go-fake.json")
    archives = [Archive.model_validate(x) for x in by_zone["is1a"]]
    assert archives and all(a.scope == "shared" and a.size_gb >= 20 and a.id.isdigit() for a in archives)


def test_plans():
    sp = ServerPlan.model_validate(real("product-server-libsacloud-v1.json"))
    assert (sp.id, sp.cpu, sp.memory_mb, sp.service_class) == ("1001", 1, 1024, "cloud/plan/1core-1gb")
    dp = DiskPlan.model_validate(real("product-disk-libsacloud-v1.json"))
    assert (dp.id, dp.name, dp.availability) == ("4", "SSDプラン", "available")
    assert [(s.size_mb, s.display_size, s.service_class) for s in dp.size] == [(20480, 20, "cloud/disk/ssd/20g")]
    ip = InternetPlan.model_validate(real("product-internet-libsacloud-v1.json"))
    assert (ip.id, ip.band_width_mbps, ip.availability) == ("100", 100, "available")


def test_price():
    c = ServiceClass.model_validate(real("public-price-libsacloud-v1.json"))
    assert (c.id, c.path, c.display_name, c.is_public) == ("50060", "cloud/plan/11", "プラン11(ディスクなし)", True)
    assert (c.hourly, c.daily, c.monthly, c.price.zone) == (326, 3270, 65397, "is1b")


@pytest.mark.parametrize("name,cls,code", [
    ("error-409-conflict-issue.json", Conflict, "conflict"),
    ("error-409-still-creating-issue.json", StillCreating, "still_creating"),
])
def test_409_error_bodies(name, cls, code):
    body = real(name)
    assert body["status"] == "409 Conflict" and body["is_fatal"] is True
    err = error_for(int(body["status"].split()[0]), body["error_code"], body["error_msg"], "PUT",
                    "/is1a/server/1/power", body["serial"])
    assert type(err) is cls and err.error_code == code and err.status == 409
    assert body["error_msg"] in str(err)


def test_packet_filter_resource():
    from swarmlab.sakura.models import PacketFilter

    pf = PacketFilter.model_validate(real("packetfilter-libsacloud-v1.json"))
    assert pf.id == "123456789012" and len(pf.expression) == 9
    assert [r.protocol for r in pf.expression[-3:]] == ["fragment", "icmp", "ip"]
    assert pf.expression[6].destination_port == "" and pf.expression[5].protocol == "udp"


def test_internet():
    from swarmlab.sakura import Internet

    rt = Internet.model_validate(real("internet-libsacloud-v1.json"))
    assert (rt.id, rt.name, rt.band_width_mbps, rt.network_mask_len) == ("112800452760", "るーた", 100, 28)
    assert rt.service_class == "cloud/internet/router/100m" and rt.tags == ["hoge", "hoge2"]
    assert rt.switch_id == "112800452761"
    sub = rt.subnet
    assert (sub.id, sub.network_address, sub.network_mask_len, sub.default_route) == (
        "3981", "133.242.253.96", 28, "133.242.253.97")
    assert str(sub.network) == "133.242.253.96/28"
    # no IPAddresses here: SAKURA's rule (first 4 and the broadcast are the router's) gives .100-.110
    assert sub.assignable[0] == "133.242.253.100" and sub.assignable[-1] == "133.242.253.110"
    assert len(sub.assignable) == 11


def test_router_switch():
    sw = Switch.model_validate(real("switch-router-libsacloud-v1.json"))
    assert (sw.id, sw.scope, sw.user_subnet, sw.internet.id) == ("123456789012", "user", None, "123456789012")
    [sub] = sw.subnets
    assert (sub.network_address, sub.network_mask_len, sub.default_route) == ("133.242.253.96", 28, "133.242.253.97")
    assert sub.addresses == {"Min": "133.242.253.100", "Max": "133.242.253.110"}
    assert sub.assignable == [f"133.242.253.{i}" for i in range(100, 111)]
