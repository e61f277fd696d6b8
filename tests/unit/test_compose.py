"""docker-compose.yml cannot run here (no Docker engine); check it says what `v6 up` does."""

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ("entry", "monitor", "decision", "execution")


def _compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_compose_names_nats_with_jetstream_and_a_volume():
    nats = _compose()["services"]["nats"]
    assert nats["image"].startswith("nats:")
    assert "-js" in nats["command"]
    assert any(v.endswith(":/data") for v in nats["volumes"])
    assert "healthcheck" in nats


def test_compose_runs_every_service_with_its_module_and_the_bus():
    services = _compose()["services"]
    for name in (*SERVICES, "ibsim"):
        svc = services[name]
        assert svc["command"][:3] == ["python", "-m", f"services.{name}"]
        assert svc["environment"]["V6_NATS_URL"] == "nats://nats:4222"
        assert svc["environment"]["V6_DATA_ROOT"] == "/data"
        assert svc["restart"] == "unless-stopped"
        assert "healthcheck" in svc
        assert svc["build"] == "."


def test_compose_execution_talks_to_the_simulator_by_default():
    execution = _compose()["services"]["execution"]
    assert execution["environment"]["V6__IB__HOST"] == "ibsim"
    assert "ibsim" in execution["depends_on"]


def test_every_compose_module_exists():
    for name in (*SERVICES, "ibsim"):
        assert (ROOT / "services" / name / "__main__.py").exists(), name


def _cluster() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.cluster.yml").read_text())


def test_compose_nats_runs_the_users_generated_by_the_nats_config_step():
    services = _compose()["services"]
    generate = services["nats-config"]
    assert "v6 nats-config --out /etc/v6" in " ".join(generate["entrypoint"])
    nats = services["nats"]
    assert nats["command"][:2] == ["-c", "/etc/v6/v6-auth.conf"]
    assert nats["depends_on"]["nats-config"]["condition"] == "service_completed_successfully"
    assert "v6-auth:/etc/v6:ro" in nats["volumes"]


def _login_mount(svc: dict) -> dict:
    (mount,) = [v for v in svc["volumes"] if isinstance(v, dict) and v["source"] == "v6-auth"]
    return mount


def test_compose_services_log_in_as_themselves_and_create_no_streams():
    # narrowed on purpose: a container used to mount every login (the admin's included) and
    # name the whole folder; now it mounts its own user's folder of the volume and nothing else
    services = _compose()["services"]
    assert services["streams"]["command"] == ["v6", "provision"]
    for name in (*SERVICES, "ibsim"):
        svc = services[name]
        assert svc["environment"]["V6__NATS__CREDENTIALS_FILE"] == f"/etc/v6/{name}.json"
        assert "V6__NATS__CREDENTIALS_DIR" not in svc["environment"]
        assert svc["environment"]["V6__NATS__MANAGE_STREAMS"] == "false"
        mount = _login_mount(svc)
        assert (mount["target"], mount["read_only"]) == ("/etc/v6", True)
        assert mount["volume"]["subpath"] == f"logins/{name}"
        assert not any(isinstance(v, str) and v.startswith("v6-auth:") for v in svc["volumes"])
        assert svc["depends_on"]["streams"]["condition"] == "service_completed_successfully"


def test_compose_gives_the_admin_login_to_the_provisioning_step_alone():
    services = _compose()["services"]
    streams = services["streams"]
    assert streams["environment"]["V6__NATS__CREDENTIALS_FILE"] == "/etc/v6/admin.json"
    assert _login_mount(streams)["volume"]["subpath"] == "logins/admin"
    holders = {name for name, svc in services.items() if _mounts_the_admin_login(svc)}
    # nats-config writes the logins, nats reads the server config, which holds every password
    assert holders == {"nats-config", "nats", "streams"}


def _mounts_the_admin_login(svc: dict) -> bool:
    for volume in svc.get("volumes", []):
        if isinstance(volume, str):
            if volume.startswith("v6-auth:"):
                return True
        elif volume["source"] == "v6-auth":
            return volume.get("volume", {}).get("subpath") in (None, "logins/admin")
    return False


def test_cluster_file_routes_three_servers_and_replicates_streams_three_times():
    cluster = _cluster()["services"]
    members = ("nats", "nats-2", "nats-3")
    routes = "nats://nats:6222,nats://nats-2:6222,nats://nats-3:6222"
    for name in members:
        command = cluster[name]["command"]
        assert command[:2] == ["-c", "/etc/v6/v6-auth.conf"]
        assert "-js" in command
        assert command[command.index("--routes") + 1] == routes
    for name in (*SERVICES, "streams"):
        env = cluster[name]["environment"]
        assert env["V6_NATS_URL"].split(",") == [f"nats://{m}:4222" for m in members]
        assert env["V6__NATS__REPLICAS"] == "3"
