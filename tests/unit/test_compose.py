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
