"""SAKURA wire models: IDs as numbers or strings, the JSON quirks (null/[] for empty), request bodies."""

import pytest
from pydantic import SecretStr, ValidationError

from swarmlab.sakura import NFS, Archive, Disk, DiskEdit, Note, Registry, Server, ServiceClass, Switch
from swarmlab.sakura.models import parse_nfs_plans

SERVER = {
    "ID": 113500000001, "Name": "lab-worker1", "Description": None, "Tags": ["swarmlab", "lab"],
    "HostName": "lab-worker1", "Availability": "available", "CreatedAt": "2013-01-14T09:30:00+09:00",
    "ServerPlan": {"ID": 100001001, "CPU": 2, "MemoryMB": 4096, "Commitment": "standard"},
    "Instance": {"Status": "up", "StatusChangedAt": "", "Host": {"Name": "sac-is1a-sv001"}},
    "Interfaces": [
        {"ID": 113500000002, "MACAddress": "00:00:5E:00:53:01", "IPAddress": "192.0.2.10",
         "UserIPAddress": None, "Switch": {"ID": "113500000000", "Scope": "shared"}},
        {"ID": "113500000003", "IPAddress": None, "UserIPAddress": "192.168.1.11",
         "Switch": {"ID": 113500000100, "Name": "lab-sw", "Scope": "user", "UserSubnet": []}},
    ],
    "Disks": [{"ID": 113500000200, "Name": "lab-worker1-disk", "Availability": "available",
               "SizeMB": 20480, "Plan": {"ID": 4}}],
    "Unknown": {"ignored": True},
}


def test_server_ids_coerced_and_properties():
    s = Server.model_validate(SERVER)
    assert s.id == "113500000001" and s.status == "up" and s.description == ""
    assert [n.id for n in s.interfaces] == ["113500000002", "113500000003"]
    assert s.interfaces[1].switch_id == "113500000100" and s.interfaces[1].switch.user_subnet is None
    assert s.shared_ip == "192.0.2.10" and s.cpu == 2 and s.memory_gb == 4
    assert s.disks[0].id == "113500000200" and s.disks[0].size_gb == 20
    assert s.created_at.utcoffset().total_seconds() == 9 * 3600
    assert s.instance.status_changed_at is None and s.instance.host.name == "sac-is1a-sv001"


def test_server_string_ids_same_result():
    as_str = {**SERVER, "ID": "113500000001"}
    assert Server.model_validate(as_str) == Server.model_validate(SERVER)


def test_minimal_records_and_null_tags():
    sw = Switch.model_validate({"ID": 1, "Name": "sw", "Tags": None})
    assert sw.tags == [] and sw.description == "" and sw.user_subnet is None
    s = Server.model_validate({"ID": "9", "Name": "x", "Instance": None, "Interfaces": None})
    assert s.status == "" and s.interfaces == [] and s.disks == []
    with pytest.raises(ValidationError):
        Switch.model_validate({"Name": "no id"})


def test_disk_refs():
    d = Disk.model_validate({"ID": 5, "Name": "d", "Availability": "migrating", "SizeMB": 40960,
                             "MigratedMB": 0, "Server": {"ID": 7}, "SourceArchive": {"ID": "8"},
                             "Plan": {"ID": 4}, "JobStatus": []})
    assert d.server_id == "7" and d.source_archive.id == "8" and d.plan.id == "4" and d.job_status is None
    assert Disk.model_validate({"ID": 5, "Server": None}).server_id is None


def test_nfs_quirks():
    n = NFS.model_validate({
        "ID": 113500000300, "Class": "nfs", "Name": "lab-nfs", "Tags": [],
        "Availability": "migrating", "Instance": {"Status": "down"},
        "Interfaces": [None, {"UserIPAddress": "192.168.1.20"}],
        "Remark": {"Switch": {"ID": 113500000100}, "Network": [], "Servers": [[]], "Plan": {"ID": 101}},
        "Plan": {"ID": 101},
    })
    assert n.status == "down" and n.interfaces[0] is None and n.remark.network is None
    assert n.remark.servers == [] and n.ip == "192.168.1.20" and n.switch_id == "113500000100"
    n2 = NFS.model_validate({"ID": 1, "Remark": {"Servers": [{"IPAddress": "192.168.1.21"}, ""]}})
    assert n2.ip == "192.168.1.21"
    n3 = NFS.model_validate({"ID": 1, "Remark": {"Servers": [""]}, "Interfaces": None})
    assert n3.ip is None


def test_registry_fqdn_and_name():
    r = Registry.model_validate({
        "ID": 1, "Name": "lab-reg", "Tags": ["swarmlab"], "Availability": "available",
        "Provider": {"Class": "containerregistry"},
        "Status": {"registry_name": "labreg", "hostname": "labreg.sakuracr.jp"},
    })
    assert r.fqdn == "labreg.sakuracr.jp" and r.registry_name == "labreg" and r.provider_class == "containerregistry"
    assert Registry.model_validate({"ID": 1, "Status": []}).fqdn == ""


def test_service_class_price_quirks():
    sc = ServiceClass.model_validate({"ServiceClassID": 50001, "ServiceClassName": "plan/1",
                                      "ServiceClassPath": "cloud/plan/1core-1gb", "DisplayName": "プラン1",
                                      "IsPublic": True,
                                      "Price": {"Base": 0, "Daily": 108, "Hourly": "10", "Monthly": 2139}})
    assert sc.id == "50001" and sc.hourly == 10 and sc.daily == 108 and sc.monthly == 2139
    assert ServiceClass.model_validate({"ServiceClassID": "1", "Price": []}).hourly is None


def test_archive_and_note():
    a = Archive.model_validate({"ID": 113400863432, "Name": "Ubuntu Server 22.04 LTS 64bit",
                                "Scope": "shared", "SizeMB": 20480, "Tags": ["ubuntu-22.04-latest"]})
    assert a.id == "113400863432" and a.size_gb == 20
    n = Note.model_validate({"ID": 1, "Name": "sys-nfs", "Class": "json",
                             "Content": '{"plans":{"HDD":[{"size":100,"availability":"available","planId":101}]}}'})
    assert parse_nfs_plans(n.content)["HDD"][0]["planId"] == 101
    assert parse_nfs_plans("") == {}


def test_disk_edit_wire_names():
    e = DiskEdit(host_name="lab-worker1", password=SecretStr("hunter2-pass"), ssh_public_keys=["ssh-ed25519 AAA x"],
                 notes=[("113500000400", {"FOO": "bar"})], user_ip="192.168.1.11", mask_len=24,
                 default_route="192.168.1.1")
    assert e.to_wire() == {
        "HostName": "lab-worker1", "Password": "hunter2-pass", "SSHKeys": [{"PublicKey": "ssh-ed25519 AAA x"}],
        "DisablePWAuth": True, "UserIPAddress": "192.168.1.11",
        "UserSubnet": {"DefaultRoute": "192.168.1.1", "NetworkMaskLen": 24},
        "Notes": [{"ID": "113500000400", "Variables": {"FOO": "bar"}}], "Background": True,
    }
    assert "hunter2-pass" not in repr(e) and "hunter2-pass" not in str(e)
    assert DiskEdit().to_wire() == {"DisablePWAuth": True, "Background": True}
