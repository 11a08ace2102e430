"""deploy/ can't run here (no Docker engine): check it says what the code expects."""
from __future__ import annotations

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent.parent
SETTINGS_SRC = (ROOT / "newswatch" / "settings.py").read_text()


def test_compose_services_ports_images_and_environment():
    compose = yaml.safe_load((ROOT / "deploy" / "compose.yaml").read_text())
    services = compose["services"]
    assert set(services) == {"elasticsearch", "kibana", "prefect-server", "mailpit", "corenlp", "newswatch-worker"}
    nlp = services["corenlp"]
    assert "ports" not in nlp, "the NER service is for the compose network only"
    assert nlp["command"] == "newswatch nlp run" and nlp["build"]["target"] == "nlp" and "healthcheck" in nlp
    assert "NEWSWATCH_NLP_BIND=0.0.0.0" in nlp["environment"]
    assert services["elasticsearch"]["image"].startswith("docker.elastic.co/elasticsearch/elasticsearch:${ES_VERSION:-9.")
    assert services["kibana"]["image"].startswith("docker.elastic.co/kibana/kibana:${ES_VERSION:-9.")
    assert services["prefect-server"]["image"].startswith("prefecthq/prefect:3.")
    for name in ("elasticsearch", "kibana", "prefect-server", "mailpit"):
        assert "healthcheck" in services[name], name
    ports = {p for s in services.values() for p in s.get("ports", [])}
    assert {"127.0.0.1:9200:9200", "127.0.0.1:5601:5601", "127.0.0.1:4200:4200", "127.0.0.1:8025:8025"} <= ports
    env = dict(e.split("=", 1) for e in services["newswatch-worker"]["environment"])
    assert env["ES_URL"] == "http://elasticsearch:9200" and env["PREFECT_API_URL"].endswith(":4200/api")
    assert env["SMTP_HOST"].startswith("${SMTP_HOST:-mailpit}")
    assert env["NEWSWATCH_NLP_URL"] == "http://corenlp:9310"
    assert services["newswatch-worker"]["depends_on"]["corenlp"] == {"condition": "service_healthy"}
    for var in env:  # every variable the worker gets is one newswatch (or Prefect) actually reads
        assert var.startswith("PREFECT_") or f'"{var}"' in SETTINGS_SRC, var
    assert "newswatch serve" in services["newswatch-worker"]["command"]
    for vol in compose["volumes"]:
        assert any(vol + ":" in v for s in services.values() for v in s.get("volumes", []))
    example = (ROOT / "deploy" / ".env.example").read_text()
    for var in set(re.findall(r"\$\{([A-Z_]+)", (ROOT / "deploy" / "compose.yaml").read_text())):
        assert re.search(rf"^{var}=", example, re.M), f"{var} missing from .env.example"


def test_prefect_yaml_points_at_real_flows_with_schedule_and_limit():
    import importlib

    spec = yaml.safe_load((ROOT / "deploy" / "prefect.yaml").read_text())
    names = {d["name"]: d for d in spec["deployments"]}
    ingest = names["newswatch-ingest"]
    assert ingest["schedules"][0]["cron"] == "*/15 * * * *" and ingest["concurrency_limit"] == 1
    assert "/app" not in yaml.safe_dump(spec), "works from a checkout too"
    assert "pull" not in spec, "prefect deploy records the directory it runs from"
    for d in spec["deployments"]:
        module_path, attr = d["entrypoint"].split(":")
        assert "/" not in module_path and not module_path.endswith(".py"), "a module path, not a loose script"
        module = importlib.import_module(module_path)
        flow = getattr(module, attr)
        assert flow.name in ("newswatch-ingest", "newswatch-alerts")
        assert set(d["parameters"]) <= set(flow.parameters.properties)


def test_the_image_holds_prefect_yaml_where_its_relative_paths_resolve():
    dockerfile = (ROOT / "deploy" / "Dockerfile").read_text()
    workdir = re.search(r"^WORKDIR (\S+)", dockerfile, re.M).group(1)
    assert re.search(r"^COPY deploy/prefect.yaml \./deploy/prefect.yaml$", dockerfile, re.M)
    assert re.search(r"^COPY newswatch \./newswatch$", dockerfile, re.M)  # the feeds_file the deployment names
    spec = yaml.safe_load((ROOT / "deploy" / "prefect.yaml").read_text())
    feeds = {d["parameters"]["feeds_file"] for d in spec["deployments"] if "feeds_file" in d["parameters"]}
    assert feeds == {"newswatch/data/feeds.yaml"} and (ROOT / "newswatch/data/feeds.yaml").is_file()
    assert workdir == "/app"  # what the README and compose.yaml say


def test_serve_builds_a_cron_deployment_with_concurrency_one():
    from newswatch.flows.serve import build_deployment

    dep = build_deployment("/tmp/feeds.yaml", cron="*/5 * * * *")
    assert dep.name == "newswatch-ingest"
    assert dep.schedules[0].schedule.cron == "*/5 * * * *"
    limit = dep.concurrency_limit
    assert (limit if isinstance(limit, int) else limit.limit) == 1
    assert dep.parameters["feeds_file"] == "/tmp/feeds.yaml"
    # the runs import the package's module (a file path made every scheduled run fail on its relative imports)
    assert dep.entrypoint == "newswatch.flows.ingest.ingest_flow"


def test_serve_without_a_prefect_server_says_what_to_do(tmp_path):
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_API")}
    env["PREFECT_HOME"] = str(tmp_path)
    out = subprocess.run([sys.executable, "-m", "newswatch.cli", "serve", "--feeds", "/tmp/feeds.yaml"], env=env,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode != 0
    assert "prefect server start" in out.stderr + out.stdout
