"""newswatch: news feeds in, stories with their entities and finance facts into Elasticsearch, alerts out.

Start with `newswatch demo`, then `newswatch run --feeds FILE`; `newswatch COMMAND --help` for each command."""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

from rich.console import Console
from rich.markup import escape as esc
from rich.table import Table

from .settings import PACKAGE_DATA, Settings

console = Console()


def _settings(args) -> Settings:
    overrides = {}
    if getattr(args, "es_url", None):
        overrides["es_url"] = args.es_url
    if getattr(args, "allow_loopback", False):
        overrides["allow_loopback"] = True
    if getattr(args, "allow_private", False):
        overrides["allow_private_addresses"] = True
    return Settings.from_env(**overrides)


# ------------------------------------------------------------------ es


def cmd_es(args) -> int:
    from .connectors import es_local

    s = _settings(args)
    if args.action == "start" and s.es_url:
        raise UserError(f"ES_URL is set ({s.es_url}): newswatch uses that cluster; unset ES_URL to start the local "
                        f"node")
    if args.action in ("stop", "install") and s.es_url:
        console.print(f"[yellow]ES_URL is set ({s.es_url}): newswatch uses that cluster; "
                      f"the local node is only for when ES_URL is unset.[/]")
    if args.action in ("rollover", "migrate"):
        from .connectors.es import make_client
        from .maintenance import migrate, rollover

        es = make_client(s)
        result = rollover(es, s) if args.action == "rollover" else migrate(es, s, delete_old=args.delete_old)
        console.print_json(json.dumps(result))
        return 0
    if args.action == "prune":
        return _prune(s, args)
    if args.action == "reenrich":
        return _reenrich(s, args)
    try:
        if args.action == "install":
            console.print(f"Elasticsearch {s.es_version} installed at {es_local.install(s)}")
        elif args.action == "start":
            health = es_local.start(s, timeout=args.timeout)
            console.print(f"Elasticsearch {s.es_version} is up at {s.local_es_url} "
                          f"(status {health.get('status')}); log: {es_local.log_file(s)}")
        elif args.action == "stop":
            console.print("stopped" if es_local.stop(s) else "not running")
        else:
            st = es_local.status(s)
            return _print_status(st, st["health"] in ("green", "yellow"))
    except es_local.LocalESError as exc:
        console.print(f"[red]error:[/] {exc}", soft_wrap=True)
        return 1
    return 0


def _reenrich(s: Settings, args) -> int:
    from .connectors.es import make_client
    from .maintenance import reenrich
    from .search import parse_since

    if not args.since:
        console.print("[red]error:[/] es reenrich needs --since DATE (2025-01-31) or an age (7d, 12h)")
        return 2
    try:
        since = parse_since(args.since)
    except ValueError as exc:
        console.print(f"[red]error:[/] --since {args.since!r}: {exc}", soft_wrap=True)
        return 2
    if s.ner == "corenlp" and s.nlp_url is None:
        _start_local_nlp(s)
    result = reenrich(make_client(s), s, since, only_rules=args.only_rules)
    console.print(f"re-enriched {result['updated']} of {result['stories']} stories ingested since "
                  f"{result['since'][:10]} (names by {', '.join(f'{k}: {v}' for k, v in result['recognisers'].items()) or '-'})"
                  + (f"; {result['failed']} failed" if result["failed"] else ""))
    for e in result["errors"]:
        console.print(f"  [yellow]{e}[/]")
    return 1 if result["failed"] else 0


def _start_local_nlp(s: Settings) -> bool:
    """Start the local NER service for a run; on failure say so in one line and go on with the rules."""
    from .connectors import nlp_local

    try:
        nlp_local.start(s)
        return True
    except (nlp_local.LocalNlpError, OSError) as exc:
        console.print(f"[yellow]warning:[/] the NER service could not start ({str(exc).splitlines()[0]}); "
                      f"names come from the gazetteer and rules (NEWSWATCH_NER=rules silences this)")
        return False


# ------------------------------------------------------------------ nlp


def cmd_nlp(args) -> int:
    from .connectors import nlp_local

    s = _settings(args)
    if args.action in ("start", "stop", "install") and s.nlp_url:
        console.print(f"[yellow]NEWSWATCH_NLP_URL is set ({s.nlp_url}): newswatch uses that service; "
                      f"the local one is only for when it is unset.[/]")
    try:
        if args.action == "install":
            console.print(f"Stanford CoreNLP {nlp_local.VERSION} installed at {nlp_local.install(s, quiet=True)}")
        elif args.action == "start":
            url = nlp_local.start(s, timeout=args.timeout)
            console.print(f"CoreNLP NER is up at {url}; log: {nlp_local.log_file(s)}")
        elif args.action == "stop":
            console.print("stopped" if nlp_local.stop(s) else "not running")
        elif args.action == "run":
            nlp_local.install(s)
            os.execv(nlp_local.command(s)[0], nlp_local.command(s))
        else:
            st = nlp_local.status(s)
            return _print_status(st, st["ready"])
    except nlp_local.LocalNlpError as exc:
        console.print(f"[red]error:[/] {exc}", soft_wrap=True)
        return 1
    return 0


def _print_status(status: dict, ok: bool) -> int:
    """A local service's status, a line per item; exit code 0 if it is up."""
    for k, v in status.items():
        console.print(f"{k:>10}: {v}")
    return 0 if ok else 1


def _prune(s: Settings, args) -> int:
    from .connectors.es import make_client
    from .maintenance import prune

    if not args.older_than:
        console.print("[red]error:[/] prune needs --older-than (e.g. 365d)")
        return 2
    try:
        result = prune(make_client(s), s, args.older_than, dry_run=args.dry_run)
    except ValueError as exc:
        console.print(f"[red]error:[/] {exc}", soft_wrap=True)
        return 2
    verb = "would delete" if args.dry_run else "deleted"
    for i in result["old"]:
        console.print(f"{verb} {i['index']} (newest story ingested {i['newest'][:10]})")
    for i in result["kept"]:
        why = "the write index" if i["write_index"] else f"newest story ingested {i['newest'][:10]}"
        console.print(f"kept {i['index']} ({why})")
    n = len(result["old"])
    console.print(f"{n} {'index' if n == 1 else 'indices'} with no story ingested since {result['cutoff'][:10]}: "
                  + ("nothing deleted (dry run)" if args.dry_run else "deleted"))
    return 0


# ------------------------------------------------------------------ run / demo


def _print_summary(summary: dict) -> None:
    if summary["status"] in ("failed", "skipped"):
        console.print(f"[red]run {summary['run_id']} {summary['status']}:[/] {esc(str(summary.get('reason')))}")
        if not summary.get("counts"):  # it stopped before polling (Elasticsearch unusable, another run)
            return
    counts = summary["counts"]
    table = Table(title=f"newswatch run {summary['run_id']} — {summary['status']}")
    for col in ("feeds polled", "not modified", "feeds failed", "entries seen", "new", "fetched",
                "extracted", "indexed", "failed"):
        table.add_column(col, justify="right")
    table.add_row(*(str(counts.get(k, 0)) for k in (
        "feeds_polled", "feeds_not_modified", "feeds_failed", "entries_seen", "new", "fetched",
        "extracted", "indexed", "failed")))
    console.print(table)
    if summary.get("elapsed_s") is not None:
        rate = summary.get("stories_per_s")
        console.print(f"elapsed {summary['elapsed_s']:.1f} s" + (f", {rate:.1f} stories/s" if rate else ""))
    if counts.get("spooled"):
        console.print(f"[yellow]{counts['spooled']} documents could not be written to Elasticsearch and were "
                      f"spooled; the next run writes them.[/]")
    for fe in summary.get("errors", {}).get("feeds", []):
        console.print(f"[red]feed error[/] {esc(str(fe['feed']))}: {esc(str(fe['error']))}")


def _print_per_feed(summary: dict) -> None:
    rows = summary.get("per_feed") or {}
    failed = {fe["feed"]: fe["error"] for fe in (summary.get("errors") or {}).get("feeds", [])}
    table = Table(title="per feed")
    for col, justify in (("feed", "left"), ("new", "right"), ("indexed", "right"), ("error", "left")):
        table.add_column(col, justify=justify, overflow="fold")
    for feed in sorted(set(rows) | set(failed)):
        row = rows.get(feed, {})
        table.add_row(esc(feed), str(row.get("new", 0)), str(row.get("indexed", 0)), esc(str(failed.get(feed, ""))))
    console.print(table)


def _print_errors(settings: Settings, run_id: str, limit: int = 10) -> None:
    from .connectors.es import make_client

    es = make_client(settings)
    resp = es.search(index=settings.index("errors"), query={"term": {"run_id": run_id}}, size=limit,
                     sort=[{"at": "asc"}])
    hits = resp["hits"]["hits"]
    if not hits:
        return
    table = Table(title=f"errors of this run (index {settings.index('errors')})")
    for col in ("stage", "kind", "url", "reason"):
        table.add_column(col, overflow="fold")
    for h in hits:
        e = h["_source"]
        table.add_row(esc(e["stage"]), esc(e.get("error_type") or ""), esc((e.get("url") or e.get("feed") or "")[:80]),
                      esc(e["reason"][:120]))
    console.print(table)


def _money_lines(finance, limit: int = 4) -> str:
    """Deals first, then background figures (marked), one line each."""
    from .formatting import mention_text, reading_order

    return "\n".join(("" if role == "deal" else "background: ") + mention_text(m)
                     for role, m in reading_order(finance)[:limit])


def _print_examples(settings: Settings, ids: list[str], limit: int = 5) -> None:
    from .connectors.es import make_client

    if not ids:
        return
    es = make_client(settings)
    resp = es.search(index=settings.index("stories"), query={"ids": {"values": ids}}, size=limit,
                     sort=[{"published_at": {"order": "desc", "missing": "_last"}}],
                     source=["title", "site", "published_at", "countries", "finance"])
    table = Table(title="example stories", show_lines=True)
    for col in ("published", "title", "countries", "money mentions"):
        table.add_column(col, overflow="fold")
    for h in resp["hits"]["hits"]:
        s = h["_source"]
        table.add_row((s.get("published_at") or "")[:10], esc(s.get("title") or ""), " ".join(s.get("countries") or []),
                      esc(_money_lines(s.get("finance"))) or "—")
    console.print(table)




def _check_home(settings: Settings) -> None:
    """NEWSWATCH_HOME must take a run's files: a read-only or full disk is one clear line before anything is
    fetched."""
    import shutil

    home = Path(settings.home)
    try:
        home.mkdir(parents=True, exist_ok=True)
        probe = home / f".write-probe-{os.getpid()}"
        probe.write_bytes(b"x" * 4096)
        probe.unlink()
        free_mb = shutil.disk_usage(home).free // 2 ** 20
    except OSError as exc:
        raise UserError(f"NEWSWATCH_HOME={home} cannot be written ({exc.strerror}): set NEWSWATCH_HOME to a "
                        f"directory newswatch may write to, or free some space") from None
    if free_mb < settings.min_free_mb:
        raise UserError(f"only {free_mb} MB free under NEWSWATCH_HOME={home} (a run needs {settings.min_free_mb} MB "
                        f"for its staged entries and spool): free some space or point NEWSWATCH_HOME elsewhere")


def _elasticsearch_ready(settings: Settings) -> bool:
    """The local node started when ES_URL is unset (False, said in a line, if it cannot start), else the cluster
    at ES_URL asked once (a clear error if it does not answer as Elasticsearch)."""
    from .connectors import es_local

    if settings.es_url:
        _check_elasticsearch(settings)
        return True
    try:
        es_local.start(settings)
        return True
    except es_local.LocalESError as exc:
        console.print(f"[red]error:[/] {exc}", soft_wrap=True)
        return False


def _check_elasticsearch(settings: Settings) -> None:
    """Ask the cluster at ES_URL once before a run starts: a wrong URL is one clear line, not a failed flow run
    (the flow's own retries are for a cluster that blinks during scheduled runs)."""
    from elastic_transport import ConnectionError as ESConnectionError

    from .connectors.es import make_client

    try:
        make_client(settings).options(request_timeout=10, max_retries=0).cluster.health()
    except ESConnectionError as exc:
        raise UserError(_unreachable(exc, settings)) from None


def _unreachable(exc: Exception, settings: Settings | None) -> str:
    """The one wording of "Elasticsearch is not reachable", before a run and from any command."""
    from .connectors.feeds import strip_credentials

    cause = (getattr(exc, "message", "") or str(exc)).split(": ")[-1].splitlines()[0][:160]
    if settings is None or not settings.es_url:
        where = f" at {settings.local_es_url}" if settings is not None else ""
        return f"Elasticsearch is not reachable{where}: {cause}; start the local node (`newswatch es start`) or set ES_URL"
    return (f"Elasticsearch is not reachable at {strip_credentials(settings.es_url)} (ES_URL): {cause}; "
            f"check ES_URL, or unset it to use the local node")


def _run_flow(feeds_file: str, settings: Settings, beam_args: list[str]) -> dict:
    from .flows.ingest import run_ingest

    return run_ingest(feeds_file, beam_args=beam_args, overrides=settings.public())


def cmd_run(args) -> int:
    s = _settings(args)
    beam_args = list(args.beam_args or [])
    if args.runner:
        beam_args = [f"--runner={args.runner}", *beam_args]
    if args.flink_master:
        beam_args.append(f"--flink_master={args.flink_master}")
    if not _elasticsearch_ready(s):
        return 1
    if s.ner == "corenlp" and s.nlp_url is None:
        _start_local_nlp(s)
    summary = _run_flow(args.feeds, s, beam_args)
    _print_summary(summary)
    if not summary.get("counts"):  # stopped before polling: failed (Elasticsearch) or skipped (another run)
        return 1 if summary["status"] == "failed" else 0
    try:
        _print_errors(s, summary["run_id"])
    except Exception as exc:  # noqa: BLE001 - Elasticsearch gone since: the summary above says what happened
        console.print(f"[yellow]error records not shown: {esc(type(exc).__name__)}[/]")
    _print_alerts(summary)
    if args.per_feed:
        _print_per_feed(summary)
    if args.examples and summary["status"] != "failed":
        _print_examples(s, summary["story_ids"], limit=args.examples)
    return 0 if summary["status"] in ("ok", "completed_with_errors") else 1


def cmd_demo(args) -> int:
    from .connectors import es_local
    from .sampleserver import SampleServer

    s = _settings(args).with_(allow_loopback=True)
    sample = Path(args.sample_dir) if args.sample_dir else PACKAGE_DATA / "sample"
    if s.es_url is None:
        console.print(f"Starting the local Elasticsearch {s.es_version} (first time: download + unpack)...")
        try:
            health = es_local.start(s)
        except es_local.LocalESError as exc:
            console.print(f"[red]error:[/] {exc}", soft_wrap=True)
            return 1
        console.print(f"Elasticsearch is {health.get('status')} at {s.local_es_url}")
    if s.ner == "corenlp" and s.nlp_url is None:
        console.print("Starting the local CoreNLP named-entity service...")
        if _start_local_nlp(s):
            console.print(f"CoreNLP is up at {s.local_nlp_url}")
    with SampleServer(sample) as server:
        feeds = sorted((sample / "feeds").glob("*.xml"))
        with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as fh:
            for f in feeds:
                fh.write(server.url(f"feeds/{f.name}") + "\n")
            feeds_file = fh.name
        console.print(f"Serving {len(feeds)} sample feeds from {sample} at {server.base_url}")
        summary = _run_flow(feeds_file, s, list(args.beam_args or []))
    os.unlink(feeds_file)
    _print_summary(summary)
    if summary["status"] in ("failed", "skipped"):
        return 1
    _print_errors(s, summary["run_id"])
    _print_examples(s, summary["story_ids"], limit=args.examples)
    _demo_alerts(s, summary["story_ids"])
    console.print(f"Stories are in the index [bold]{s.index('stories')}[/] at {s.effective_es_url}; "
                  f"errors in [bold]{s.index('errors')}[/]; run summaries in [bold]{s.index('runs')}[/].")
    return 0


def _demo_alerts(s: Settings, story_ids: list[str]) -> None:
    """Deliver the demo's alerts to a mail catcher on loopback and show where the .eml files are."""
    from email import message_from_bytes, policy

    from .alerting.demo import MailCatcher
    from .flows import run_local
    from .flows.alert import alert_flow

    outbox = s.home / "outbox"
    with MailCatcher(outbox) as catcher:
        result = run_local(alert_flow, story_ids=story_ids,
                           overrides=s.with_(smtp_host="127.0.0.1", smtp_port=catcher.port, smtp_ssl=False,
                                             smtp_starttls=False, smtp_username=None).public())
    for path in catcher.saved:
        msg = message_from_bytes(path.read_bytes(), policy=policy.default)
        console.print(f"[green]alert mail[/] {esc(repr(str(msg['Subject'])))} to {esc(str(msg['To']))} — saved as {path}")
    if not catcher.saved:
        console.print(f"no alert matched (rules: {s.rules_file or 'newswatch/data/rules.yaml'})")
    elif result["pending"]:
        console.print(f"[yellow]{result['pending']} alerts pending[/]")


def _print_alerts(summary: dict) -> None:
    if summary.get("alerts"):
        a = summary["alerts"]
        console.print(f"alerts: {a['mails_sent']} digest(s) sent with {a['stories_sent']} stories, "
                      f"{a['pending']} pending")
    if summary.get("errors", {}).get("alerts"):
        console.print(f"[red]{esc(summary['errors']['alerts'])}[/]")


def cmd_alerts(args) -> int:
    from .alerting import engine
    from .alerting.rules import RuleError, load_rules
    from .connectors.es import Indices, make_client

    s = _settings(args)
    if args.rules:
        s = s.with_(rules_file=args.rules)
    try:
        rules = {r.name: r for r in load_rules(s.rules_file)}
    except RuleError as exc:
        raise UserError(str(exc)) from None
    if args.action == "list":
        for r in rules.values():
            console.print(f"[bold]{r.name}[/] -> {', '.join(r.recipients)}{'' if r.enabled else ' (disabled)'}")
            console.print(json.dumps(r.to_query()))
        return 0
    if args.action == "test":
        if not args.rule:
            raise UserError(f"name the rule to test: `newswatch alerts test RULE` (rules: {', '.join(sorted(rules))})")
        if args.rule not in rules:
            raise UserError(f"unknown rule {args.rule!r}; rules: {', '.join(sorted(rules))}")
        es, ix = make_client(s), Indices(s)
        try:
            engine.validate_on_server(es, ix, [rules[args.rule]])
        except RuleError as exc:
            raise UserError(str(exc)) from None
        from datetime import datetime, timedelta, timezone

        since = datetime.now(timezone.utc) - timedelta(hours=args.since_hours) if args.since_hours else None
        hits = engine.match(es, ix, rules[args.rule], since=since, size=args.limit)
        table = Table(title=f"stories rule {args.rule!r} would alert on (dry run, nothing sent)")
        for col in ("published", "title", "countries", "money mentions"):
            table.add_column(col, overflow="fold")
        for h in hits:
            table.add_row((h.get("published_at") or "")[:10], esc(h.get("title") or ""), " ".join(h.get("countries") or []),
                          esc(_money_lines(h.get("finance"))) or "—")
        console.print(table)
        console.print(f"{len(hits)} stories")
        return 0
    from .flows import run_local
    from .flows.alert import alert_flow

    result = run_local(alert_flow, story_ids=None, since_hours=args.since_hours or 24.0, overrides=s.public())
    console.print(json.dumps(result, indent=2))
    return 0 if not result["pending"] else 1


def cmd_flink(args) -> int:
    from .connectors.flink_local import FlinkSetupError, install

    try:
        console.print(f"Flink job server launcher: {install(_settings(args))}")
    except FlinkSetupError as exc:
        console.print(f"[red]error:[/] {exc}", soft_wrap=True)
        return 1
    return 0


def cmd_kibana(args) -> int:
    from . import kibana

    if args.action == "export":
        path = kibana.export(Path(args.file) if args.file else kibana.NDJSON_PATH, _settings(args).index_prefix)
        console.print(f"wrote {path}")
        return 0
    if not args.url:
        console.print("[red]error:[/] --url (or KIBANA_URL) is required")
        return 2
    try:
        result = kibana.import_to_kibana(args.url, Path(args.file) if args.file else kibana.NDJSON_PATH,
                                         api_key=os.environ.get("KIBANA_API_KEY"),
                                         username=os.environ.get("KIBANA_USERNAME"),
                                         password=os.environ.get("KIBANA_PASSWORD"), space=args.space)
    except Exception as exc:  # noqa: BLE001 - the network, Kibana's answer or the file: one line whichever
        console.print(f"[red]error:[/] {esc(str(exc))}", soft_wrap=True)
        return 1
    console.print(f"imported {result.get('successCount')} saved objects into {args.url}")
    return 0


def cmd_search(args) -> int:
    from .connectors.es import make_client
    from .formatting import amount_text, usd_text
    from .search import search

    s = _settings(args)
    try:
        hits = search(make_client(s), s.index("stories"), args.query, countries=args.country, min_usd=args.min_usd,
                      since=args.since, kinds=args.kind, lenders=args.lender, recipients=args.recipient,
                      size=args.limit)
    except ValueError as exc:
        console.print(f"[red]error:[/] {exc}", soft_wrap=True)
        return 2
    if args.json:
        print(json.dumps(hits, indent=2, ensure_ascii=False))
        return 0
    table = Table(title=f"{len(hits)} stories", show_lines=True)
    for col in ("published", "title / link", "outlet", "countries", "largest deal"):
        table.add_column(col, overflow="fold")
    for h in hits:
        top = h["largest_deal"]
        shown = "—"
        if top:
            usd = usd_text(top) if top["currency"] != "USD" else ""
            who = top.get("lender_name") or top.get("lender") or "?"
            shown = f"{amount_text(top)}{' ≈ ' + usd if usd else ''} {top['kind']}, {who} → {top.get('recipient') or '?'}"
            if h["deals"] > 1:
                shown += f" (+{h['deals'] - 1} more)"
        table.add_row((h["published_at"] or "")[:10], esc(h["title"] or "") + "\n" + esc(h["url"] or ""),
                      esc(h["outlet"] or ""), " ".join(h["countries"]), esc(shown))
    console.print(table)
    return 0


def cmd_export(args) -> int:
    from .connectors.es import make_client
    from .export import export_deals

    s = _settings(args)
    try:
        n = export_deals(make_client(s), s.index("stories"), args.format, args.out, since=args.since,
                         countries=args.country, kinds=args.kind)
    except (ValueError, OSError) as exc:
        console.print(f"[red]error:[/] {esc(str(exc))}", soft_wrap=True)
        return 2
    if args.out:
        console.print(f"{n} deals written to {args.out} ({args.format})")
    return 0


def cmd_serve(args) -> int:
    from .flows.serve import serve

    from prefect.settings import PREFECT_API_URL

    s = _settings(args)
    if PREFECT_API_URL.value():  # (without a server, serve() says what to start first)
        _check_feeds_file(args.feeds)
    if s.ner == "corenlp" and s.nlp_url is None:
        _start_local_nlp(s)
    serve(args.feeds, cron=args.cron, beam_args=list(args.beam_args or []))
    return 0


def cmd_eval(args) -> int:
    from .evaluation import run_eval

    thresholds = {k: v for k, v in vars(args).items() if k.startswith("min_") and v is not None}
    try:
        return run_eval(args.gold, args.pages, thresholds, max_violations=args.max_violations,
                        nlp=_settings(args).nlp_config, as_json=args.json)
    except (OSError, ValueError) as exc:
        console.print(f"[red]newswatch eval: {exc}[/]")
        return 2


def cmd_doctor(args) -> int:
    from .doctor import FAIL, OK, run_checks

    checks = run_checks(_settings(args))
    table = Table(title="newswatch doctor")
    for col in ("check", "status", "detail", "how to fix"):
        table.add_column(col, overflow="fold")
    colour = {OK: "green", FAIL: "red"}
    for c in checks:
        table.add_row(c.name, f"[{colour.get(c.status, 'yellow')}]{c.status}[/]", c.detail, c.fix)
    console.print(table)
    return 1 if any(c.status == FAIL for c in checks) else 0


# ------------------------------------------------------------------ feeds: discover, add; backfill


def _feeds_health(args) -> int:
    from .connectors import feed_health
    from .connectors.es import Indices, all_feed_states, ensure_indices, make_client, put_feed_states
    from .connectors.http import strip_credentials, without_credentials

    s = _settings(args)
    es, ix = make_client(s), Indices(s)
    ensure_indices(es, s)
    es.indices.refresh(index=ix.feeds)  # runs write feed states without a refresh
    # a feed is stored, listed and reset by its URL without credentials (given with them, they are dropped)
    states = {strip_credentials(st["url"]): st for st in all_feed_states(es, ix)}
    if args.action == "reset":
        if not args.urls:
            console.print("[red]error:[/] feeds reset URL [URL...]")
            return 2
        urls = [strip_credentials(u) for u in args.urls]
        unknown = [u for u in urls if u not in states]
        if unknown:
            console.print(f"[red]error:[/] no such feed in {ix.feeds}: {esc(', '.join(unknown))}", soft_wrap=True)
            return 1
        put_feed_states(es, ix, [feed_health.reset(states[u]) for u in urls])
        es.indices.refresh(index=ix.feeds)
        console.print(f"{len(args.urls)} feed(s) reset: polled by the next run")
        return 0
    table = Table(title=f"feeds ({ix.feeds})")
    for col in ("feed", "status", "last success", "failures", "next poll", "last error"):
        table.add_column(col, overflow="fold")
    for url in sorted(states):
        st = states[url]
        status = st.get("status") or ("failing" if st.get("consecutive_failures") else "ok")
        colour = {"ok": "green", "failing": "yellow", "quarantined": "red"}.get(status, "white")
        next_poll = st.get("next_poll_at") or ("after reset" if status == "quarantined" else "next run")
        table.add_row(esc(url), f"[{colour}]{status}[/]", (st.get("last_success_at") or "never")[:19],
                      str(st.get("consecutive_failures") or 0), next_poll[:19],
                      esc(without_credentials(st.get("last_error") or "")[:100]))
    console.print(table)
    return 0


def cmd_feeds(args) -> int:
    if args.action in ("list", "reset"):
        return _feeds_health(args)
    if not args.urls:
        console.print(f"[red]error:[/] feeds {args.action} URL [URL...]", soft_wrap=True)
        return 2
    from .connectors.discovery import add_to_feeds_file, discover_feeds
    from .connectors.http import FetchError, Fetcher
    from .connectors.polite import PoliteFetcher

    fetcher = PoliteFetcher(Fetcher(_settings(args)))
    found = []
    try:
        for url in args.urls:
            try:
                feeds = discover_feeds(fetcher, url)
            except FetchError as exc:
                console.print(f"[red]error:[/] {esc(exc.reason)}", soft_wrap=True)
                return 1
            if not feeds:
                console.print(f"[yellow]no feed found for {esc(url)}[/]")
            found += feeds
    finally:
        fetcher.shutdown()
    if found:
        table = Table(title="feeds found")
        for col in ("feed", "title", "entries"):
            table.add_column(col, overflow="fold")
        for f in found:
            table.add_row(esc(f.url), esc(f.title or ""), str(f.entries))
        console.print(table)
    if args.action == "add":
        try:
            added = add_to_feeds_file(args.feeds, found)
        except ValueError as exc:
            console.print(f"[red]error:[/] {esc(str(exc))}", soft_wrap=True)
            return 1
        console.print(f"{len(added)} feed(s) added to {esc(args.feeds)}" + (
            f"; {len(found) - len(added)} already listed" if len(found) > len(added) else ""))
    return 0 if found else 1


def cmd_backfill(args) -> int:
    from .flows.backfill import parse_since, run_backfill

    s = _settings(args)
    try:
        parse_since(args.since)
    except ValueError as exc:
        console.print(f"[red]error:[/] {exc}", soft_wrap=True)
        return 2
    if not _elasticsearch_ready(s):
        return 1
    summary = run_backfill(args.site, args.since, max_stories=args.max, include_undated=args.include_undated,
                           beam_args=list(args.beam_args or []), overrides=s.public())
    if summary["status"] in ("failed", "skipped"):
        console.print(f"[red]backfill {summary['run_id']} {summary['status']}:[/] {esc(str(summary.get('reason')))}")
        return 1
    c = summary["counts"]
    console.print(f"backfill {summary['run_id']} — {summary['status']}: {c['sitemaps']} sitemaps, {c['urls_found']} "
                  f"story URLs, {c['selected']} since {esc(args.since)} (at most {args.max}), {c['known']} already "
                  f"stored, {c['indexed']} indexed, {c['failed']} failed")
    for err in summary.get("errors", {}).get("sitemaps", []):
        console.print(f"[yellow]sitemap:[/] {esc(err)}")
    _print_errors(s, summary["run_id"])
    return 0


# ------------------------------------------------------------------ main


class _Help(argparse.HelpFormatter):
    """Every option's help shows its default, unless it says it already or there is none to show."""

    def _get_help_string(self, action):
        text = action.help or ""
        nothing = action.default is None or action.default is False or action.default in (argparse.SUPPRESS, [])
        if "default" in text or nothing or not action.option_strings:
            return text
        return f"{text} (default: %(default)s)"


class _Parser(argparse.ArgumentParser):
    """Subcommand parsers: no abbreviated options ("--feed" for "--feeds" would change meaning as options grow)."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("allow_abbrev", False)
        kwargs.setdefault("formatter_class", _Help)
        super().__init__(*args, **kwargs)


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("newswatch")
    except PackageNotFoundError:
        return "unknown"


def _check_feeds_file(path: str) -> None:
    """Read the feeds file before anything starts: a typo is one clear line, not a failed flow run."""
    import yaml

    from .connectors.feeds import load_feed_list

    try:
        specs = load_feed_list(path)
    except FileNotFoundError:
        raise UserError(f"feeds file not found: {path}") from None
    except (OSError, ValueError, yaml.YAMLError) as exc:  # unreadable, bad YAML, a bad entry
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        first = first.removeprefix(f"{path}: ")
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        raise UserError(f"feeds file {path} cannot be used{where}: {first}") from None
    if not specs:
        raise UserError(f"feeds file {path} lists no feeds")


class UserError(Exception):
    """Something the user can fix (a path, a setting, a missing index): printed as one line, exit code 2."""


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="newswatch", description=__doc__, allow_abbrev=False, formatter_class=_Help)
    p.add_argument("--version", action="version", version=f"newswatch {_version()}")
    p.add_argument("--es-url", help="Elasticsearch URL (default: $ES_URL, else the local node)")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)
    _ingest_commands(sub)
    _analyst_commands(sub)
    _service_commands(sub)
    _check_commands(sub)
    return p


def _service_commands(sub) -> None:
    """The commands of the local services and saved objects: es, nlp, flink, kibana."""
    es = sub.add_parser("es", help="manage the local single-node Elasticsearch")
    es.add_argument("action", choices=["start", "stop", "status", "install", "rollover", "migrate", "prune",
                                       "reenrich"],
                    help="start/stop/status/install the local node; rollover the stories index; migrate to the "
                         "current mapping; prune old stories indices; reenrich stories in place")
    es.add_argument("--since", help="reenrich: the stories ingested since this date (2025-01-31) or age (7d)")
    es.add_argument("--only-rules", action="store_true",
                    help="reenrich: only the stories whose names came from the rules (the NER service was down)")
    es.add_argument("--delete-old", action="store_true", help="migrate: delete the old indices after the swap")
    es.add_argument("--older-than", help="prune: delete the stories indices whose newest story was ingested "
                                         "longer ago than this (365d, 52w, 12m); never the write index")
    es.add_argument("--dry-run", action="store_true", help="prune: only list what would be deleted")
    es.add_argument("--timeout", type=float, default=180.0, help="start: seconds to wait for the node")
    es.set_defaults(func=cmd_es)

    nl = sub.add_parser("nlp", help="manage the local Stanford CoreNLP named-entity service")
    nl.add_argument("action", choices=["install", "start", "stop", "status", "run"],
                    help="run: install if needed and serve in the foreground (a container's command)")
    nl.add_argument("--timeout", type=float, default=120.0, help="seconds to wait for the service to answer")
    nl.set_defaults(func=cmd_nlp)

    fl = sub.add_parser("flink", help="fetch the Beam Flink job server (Maven) for --runner FlinkRunner")
    fl.add_argument("action", choices=["install"], help="download the job server jar into NEWSWATCH_HOME")
    fl.set_defaults(func=cmd_flink)

    kb = sub.add_parser("kibana", help="Kibana saved objects: export (from the schema) or import into Kibana")
    kb.add_argument("action", choices=["export", "import"],
                    help="export: write the saved objects generated from the schema; import: load them into Kibana")
    kb.add_argument("--url", default=os.environ.get("KIBANA_URL"), help="Kibana URL (import; default: $KIBANA_URL)")
    kb.add_argument("--file", help="NDJSON path (default deploy/kibana/newswatch.ndjson)")
    kb.add_argument("--space", help="Kibana space id")
    kb.set_defaults(func=cmd_kibana)


def _ingest_commands(sub) -> None:
    """The commands of ingestion: run, demo, serve, backfill, feeds."""
    run = sub.add_parser("run", help="run the ingestion flow once over a feeds file",
                         epilog="Arguments after `--` are passed to Beam as PipelineOptions.")
    run.add_argument("--feeds", default=str(PACKAGE_DATA / "feeds.yaml"),
                     help="feeds file: YAML (feeds: [{url, name}]) or one URL per line")
    run.add_argument("--runner", help="Beam runner (default: FnApiRunner, Beam's in-process runner; FlinkRunner runs "
                                      "an embedded Flink)")
    run.add_argument("--flink-master", help="FlinkRunner: host:port of a Flink cluster (default: embedded)")
    run.add_argument("--allow-loopback", action="store_true", help="allow fetching 127.0.0.0/8 (testing)")
    run.add_argument("--allow-private", action="store_true", help="allow fetching private addresses")
    run.add_argument("--examples", type=int, default=0, metavar="N", help="print N example stories")
    run.add_argument("--per-feed", action="store_true", help="print each feed's new and indexed stories")
    run.add_argument("beam_args", nargs=argparse.REMAINDER, help="-- then Beam PipelineOptions")
    run.set_defaults(func=cmd_run)

    demo = sub.add_parser("demo", help="start local ES and a loopback server with the bundled sample "
                                       "feeds, and run the ingestion flow once")
    demo.add_argument("--sample-dir", help="directory with feeds/ and articles/ (default: bundled sample)")
    demo.add_argument("--examples", type=int, default=5, metavar="N", help="print N example stories")
    demo.add_argument("beam_args", nargs=argparse.REMAINDER, help="-- then Beam PipelineOptions")
    demo.set_defaults(func=cmd_demo)

    sv = sub.add_parser("serve", help="serve the ingest flow on a cron schedule (needs a Prefect server)")
    sv.add_argument("--feeds", default=str(PACKAGE_DATA / "feeds.yaml"),
                    help="feeds file: YAML (feeds: [{url, name}]) or one URL per line")
    sv.add_argument("--cron", default=os.environ.get("NEWSWATCH_CRON", "*/15 * * * *"),
                    help="when runs start (cron syntax; $NEWSWATCH_CRON)")
    sv.add_argument("beam_args", nargs=argparse.REMAINDER, help="-- then Beam PipelineOptions")
    sv.set_defaults(func=cmd_serve)

    bf = sub.add_parser("backfill", help="index a site's older stories, found in its sitemaps",
                        epilog="Arguments after `--` are passed to Beam as PipelineOptions.")
    bf.add_argument("site", metavar="SITE_URL", help="the site whose sitemaps list its stories")
    bf.add_argument("--since", required=True, help="stories dated this day or later (sitemap dates), e.g. 2024-05-01")
    bf.add_argument("--max", type=int, default=500, help="at most this many stories, newest first")
    bf.add_argument("--include-undated", action="store_true",
                    help="also take sitemap URLs without a date (after the dated ones)")
    bf.add_argument("--allow-loopback", action="store_true", help=argparse.SUPPRESS)
    bf.add_argument("beam_args", nargs=argparse.REMAINDER, help="-- then Beam PipelineOptions")
    bf.set_defaults(func=cmd_backfill)

    fd = sub.add_parser("feeds", help="feeds: discover a site's, add them to a feeds file, list their health, "
                                      "reset a failing or quarantined one")
    fd.add_argument("action", choices=["discover", "add", "list", "reset"],
                    help="discover a site's feeds; add them to a feeds file; list each feed's health; reset one")
    fd.add_argument("urls", nargs="*", metavar="URL",
                    help="discover/add: a site (its home page or any page) or a feed; reset: feed URLs")
    fd.add_argument("--feeds", default="feeds.yaml", help="add: the feeds file to append to (YAML or text)")
    fd.add_argument("--allow-loopback", action="store_true", help=argparse.SUPPRESS)
    fd.set_defaults(func=cmd_feeds)


def _analyst_commands(sub) -> None:
    """The commands of what analysts read: search, export, alerts."""
    se = sub.add_parser("search", help="search stored stories")
    se.add_argument("query", nargs="?", default="*", help="Lucene query string over title and text")
    se.add_argument("--country", action="append", help="ISO code; repeat for several")
    se.add_argument("--min-usd", type=float, help="a deal worth at least this many USD (background figures such "
                                                  "as trade or market turnover do not count)")
    se.add_argument("--kind", action="append", help="a deal of this kind (loan, grant, aid, investment, financing); "
                                                    "repeat for several")
    se.add_argument("--lender", action="append", help="a deal from this lender: id (exim-china), state (CN) or "
                                                      "name (World Bank); repeat for several")
    se.add_argument("--recipient", action="append", help="a deal to this country (ISO code); repeat for several")
    se.add_argument("--since", help="published in the last 12h / 7d / 4w / 3m, or since a date (2025-01-31)")
    se.add_argument("--limit", type=int, default=20, help="stories shown at most")
    se.add_argument("--json", action="store_true", help="print the stories as JSON lines")
    se.set_defaults(func=cmd_search)

    ex = sub.add_parser("export", help="export deals: one row per deal (loan, grant, aid, investment, financing; "
                                       "equivalents, repeats and background figures left out)")
    ex.add_argument("what", choices=["deals"], help="what to export")
    ex.add_argument("--format", choices=["csv", "parquet", "jsonl"], default="csv", help="file format")
    ex.add_argument("--out", help="file to write (default: standard output; parquet needs a file)")
    ex.add_argument("--since", help="published in the last 12h / 7d / 4w / 3m, or since a date (2025-01-31)")
    ex.add_argument("--country", action="append", help="recipient country (ISO code); repeat for several")
    ex.add_argument("--kind", action="append", help="deal kind (loan, grant, aid, investment, financing); repeat")
    ex.set_defaults(func=cmd_export)

    al = sub.add_parser("alerts", help="alert rules: list, dry-run a rule, or send pending alerts now")
    al.add_argument("action", choices=["list", "test", "send"],
                    help="list the rules; test: the stories a rule would alert on (nothing sent); send pending alerts")
    al.add_argument("rule", nargs="?", help="rule name (for test)")
    al.add_argument("--rules", help="rules file (default: $NEWSWATCH_RULES or the bundled rules.yaml)")
    al.add_argument("--since-hours", type=float, default=None,
                    help="only stories ingested in the last N hours (send: default 24)")
    al.add_argument("--limit", type=int, default=50, help="test: stories shown at most")
    al.set_defaults(func=cmd_alerts)


def _check_commands(sub) -> None:
    """The commands of checks: doctor, eval."""
    doc = sub.add_parser("doctor", help="check configuration, Elasticsearch, SMTP and disk; print what to fix")
    doc.set_defaults(func=cmd_doctor)

    ev = sub.add_parser("eval", help="measure extraction against one or more gold files")
    ev.add_argument("gold", nargs="+", help="gold file(s); several are added up into one report")
    ev.add_argument("--pages", help="directory with the gold file's HTML pages (default: articles/ beside it)")
    ev.add_argument("--json", action="store_true", help="print the metrics (per file and in all) as JSON")
    from .evaluation import METRICS

    for name in METRICS:
        ev.add_argument(f"--min-{name.replace('_', '-')}", dest=f"min_{name}", type=float, metavar="X",
                        help=f"fail (exit 1) if {name.replace('_', ' ')} is below X")
    ev.add_argument("--max-violations", type=int, default=0,
                    help="not_amounts/not_countries that may be extracted")
    ev.set_defaults(func=cmd_eval)

def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")  # no phoning home (and no error without network)
    # Prefect's local API server gets 20 s to start by default; two runs starting at once on a busy 2-core
    # machine can need more, and a run that gives up there has done nothing
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "90")
    args = build_parser().parse_args(argv)
    if getattr(args, "beam_args", None) and args.beam_args[:1] == ["--"]:
        args.beam_args = args.beam_args[1:]
    try:
        if args.command == "run":
            _check_feeds_file(args.feeds)
        if args.command in ("run", "demo", "serve", "backfill"):
            _check_home(_settings(args))
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        console.print("[yellow]newswatch: interrupted[/]")
        return 130
    except Exception as exc:  # noqa: BLE001 - the one place every command's failure becomes one clear line
        if os.environ.get("NEWSWATCH_DEBUG") == "1":
            raise
        # one line, never a traceback (NEWSWATCH_DEBUG=1 lets it through)
        console.print(f"[red]newswatch {args.command}: error:[/] {esc(_user_message(exc))}", soft_wrap=True)
        return 2 if isinstance(exc, (UserError, ValueError, FileNotFoundError)) else 1


def _user_message(exc: Exception) -> str:
    """What went wrong, in the words a user can act on."""
    if isinstance(exc, FileNotFoundError):
        return f"file not found: {exc.filename}"
    if type(exc).__module__.startswith(("elasticsearch", "elastic_transport")):
        said = _elasticsearch_message(exc)
        if said:
            return said
    return f"{type(exc).__name__}: {exc}" if not isinstance(exc, (UserError, ValueError)) else str(exc)


def _elasticsearch_message(exc: Exception) -> str | None:
    """An Elasticsearch client error said for a user (None: nothing better than its own text)."""
    from elastic_transport import ConnectionError as ESConnectionError
    from elasticsearch import ApiError, NotFoundError, UnsupportedProductError

    if isinstance(exc, NotFoundError) and "index_not_found" in str(exc):
        return (f"no such index ({getattr(exc, 'body', {}).get('error', {}).get('index', '?')}): nothing ingested "
                f"into this Elasticsearch yet? Run `newswatch run` first, or check ES_URL / NEWSWATCH_INDEX_PREFIX")
    if isinstance(exc, ESConnectionError):
        try:
            settings = Settings.from_env()
        except ValueError:  # a bad setting was its own error already; say the rest without it
            settings = None
        return _unreachable(exc, settings)
    if isinstance(exc, UnsupportedProductError) or (isinstance(exc, ApiError)
                                                     and not isinstance(getattr(exc, "body", None), dict)):
        return (f"the server at ES_URL does not answer as Elasticsearch does (HTTP {exc.meta.status}, "
                f"{'no JSON' if exc.body else 'empty'} answer): check ES_URL")
    if isinstance(exc, ApiError) and exc.meta.status in (401, 403):
        return f"Elasticsearch refused the request (HTTP {exc.meta.status}): check ES_API_KEY or ES_USERNAME/ES_PASSWORD"
    return None


if __name__ == "__main__":
    sys.exit(main())
