"""A real secured Elasticsearch node (TLS on HTTP with our own CA, security on): newswatch ingests as a user
holding only the least-privilege role documented in docs/operations.md, verifies the server with a CA file, cannot
touch other indices, and never prints its password.

API keys use the same role descriptor, but creating one needs the `.security` index, whose mapping needs the
analysis-common module that the minimal test distribution lacks; here the role is given to a file-realm user.
"""
from __future__ import annotations

import datetime as dt
import ipaddress
import os
import shutil
import subprocess
import uuid

import pytest

from newswatch.settings import Settings

pytestmark = [pytest.mark.integration, pytest.mark.heavy]

PORT = int(os.environ.get("NEWSWATCH_TEST_SECURE_ES_PORT", "9252"))
# the privileges docs/operations.md documents for newswatch's API key
NEWSWATCH_ROLE = {
    "cluster": ["monitor", "manage_index_templates"],
    "indices": [{"names": ["newswatch-*", "nwsec-*"],
                 "privileges": ["create_index", "read", "write", "view_index_metadata", "manage"]}],
}


def _certs(conf) -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    def key():
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)

    now = dt.datetime.now(dt.timezone.utc)
    ca_key, node_key = key(), key()
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "newswatch test CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(days=1))
          .not_valid_after(now + dt.timedelta(days=2))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .sign(ca_key, hashes.SHA256()))
    node = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
            .issuer_name(ca_name).public_key(node_key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=2))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                        x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .sign(ca_key, hashes.SHA256()))
    pem = serialization.Encoding.PEM
    (conf / "ca.crt").write_bytes(ca.public_bytes(pem))
    (conf / "node.crt").write_bytes(node.public_bytes(pem))
    (conf / "node.key").write_bytes(node_key.private_bytes(pem, serialization.PrivateFormat.PKCS8,
                                                           serialization.NoEncryption()))


@pytest.fixture(scope="module")
def secure_node(es_settings, tmp_path_factory):
    """Start a second node with security + HTTPS (skips the work if ES_URL points elsewhere)."""
    from newswatch.connectors import es_local

    if es_settings.es_url and not es_settings.es_url.startswith("http://127.0.0.1"):
        pytest.skip("ES_URL points at an external cluster: the secured test node is local-only")
    base = Settings.from_env().with_(es_port=PORT, es_url=None)
    es_home = es_local.install(base)
    work = base.home / f"secure-conf-{uuid.uuid4().hex[:6]}"
    shutil.copytree(es_home / "config", work)
    _certs(work)
    import yaml

    (work / "roles.yml").write_text(yaml.safe_dump({"newswatch": NEWSWATCH_ROLE}))
    password, ingest_password = uuid.uuid4().hex, uuid.uuid4().hex
    tool_env = {**os.environ, "ES_PATH_CONF": str(work), "ES_JAVA_HOME": str(es_local.find_java(base))}
    for user, pw, role in (("nwadmin", password, "superuser"), ("nwingest", ingest_password, "newswatch")):
        subprocess.run([str(es_home / "bin" / "elasticsearch-users"), "useradd", user, "-p", pw, "-r", role],
                       env=tool_env, check=True, capture_output=True)
    extra = {"xpack.security.enabled": "true", "xpack.security.http.ssl.enabled": "true",
             "xpack.security.http.ssl.certificate": "node.crt", "xpack.security.http.ssl.key": "node.key",
             "xpack.security.http.ssl.certificate_authorities": "ca.crt",
             "xpack.security.transport.ssl.enabled": "false", "xpack.security.authc.api_key.enabled": "true"}
    url = f"https://127.0.0.1:{PORT}"
    es_local.start(base, timeout=240, conf_dir=work, extra_settings=extra, health_url=url,
                   ca_file=str(work / "ca.crt"), auth=("nwadmin", password))
    yield {"url": url, "ca": str(work / "ca.crt"), "user": "nwadmin", "password": password,
           "ingest_user": "nwingest", "ingest_password": ingest_password}
    es_local.stop(base)
    shutil.rmtree(work, ignore_errors=True)


def test_ingest_with_tls_and_least_privilege_role(secure_node, feeds_file, tmp_path, monkeypatch, fixtures_dir,
                                                  prefect_api_url):
    from elasticsearch import AuthorizationException, Elasticsearch

    from newswatch.connectors.es import make_client

    admin = Elasticsearch(secure_node["url"], ca_certs=secure_node["ca"],
                          basic_auth=(secure_node["user"], secure_node["password"]))
    admin.indices.create(index="someone-else", ignore=[400])
    monkeypatch.setenv("ES_USERNAME", secure_node["ingest_user"])
    monkeypatch.setenv("ES_PASSWORD", secure_node["ingest_password"])
    monkeypatch.setenv("ES_CA_CERTS", secure_node["ca"])
    s = Settings.from_env(es_url=secure_node["url"], index_prefix=f"nwsec-{uuid.uuid4().hex[:6]}",
                          home=tmp_path / "home", allow_loopback=True)
    es = make_client(s)
    assert es.cluster.health()["status"] in ("green", "yellow")

    # the ingest flow works with just that key, over TLS verified against our CA
    env = dict(os.environ, ES_URL=s.es_url, NEWSWATCH_INDEX_PREFIX=s.index_prefix, NEWSWATCH_HOME=str(s.home),
               NEWSWATCH_ALLOW_LOOPBACK="1", PREFECT_API_URL=prefect_api_url)
    out = subprocess.run([os.sys.executable, "-m", "newswatch.cli", "run", "--feeds",
                          feeds_file("asia-world.atom.xml")], env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    es.indices.refresh(index=f"{s.index_prefix}-stories")
    assert es.count(index=f"{s.index_prefix}-stories")["count"] == 4
    assert secure_node["ingest_password"] not in out.stdout + out.stderr

    # ...and nothing else
    with pytest.raises(AuthorizationException):
        es.search(index="someone-else")
    with pytest.raises(AuthorizationException):
        es.indices.delete(index="someone-else")

    # without the CA file the server certificate is not trusted
    monkeypatch.delenv("ES_CA_CERTS")
    from elasticsearch import ConnectionError as ESConnectionError

    with pytest.raises(ESConnectionError):
        make_client(Settings.from_env(es_url=secure_node["url"])).cluster.health()
