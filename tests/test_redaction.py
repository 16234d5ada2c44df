"""Secrets in settings never shown: phpinfo() hides pusher_secret and the secrets of redis_url and
auth_url (ext/redaction.c) as messages and logs do (pybroadcast/redaction.py), on one corpus."""

from __future__ import annotations

import json
import random
import subprocess
import tempfile
import urllib.request
from pathlib import Path

from harness.processes import free_port, php_command, run_php
from pybroadcast.redaction import redact_url

SECRETS = {"pybroadcast.pusher_secret": "pusher-s3cret",
           "pybroadcast.redis_url": "rediss://app:redis-pw@127.0.0.1:6380/0?ssl_password=key-pw&db=1",
           "pybroadcast.auth_url": "https://example.test/who?app=1&token=auth-tok"}
HIDDEN = ("pusher-s3cret", "redis-pw", "key-pw", "auth-tok")
SHOWN = ("pybroadcast.pusher_secret => *** => ***",
         "rediss://app:***@127.0.0.1:6380/0?ssl_password=***&db=1", "https://example.test/who?app=1&token=***")


def test_phpinfo_shows_no_secret_and_ini_get_still_reads_them() -> None:
    result = run_php("phpinfo(INFO_MODULES); echo json_encode(array_map('ini_get', array_keys(json_decode("
                     f"'{json.dumps(SECRETS)}', true))));", ini=SECRETS)
    info, _, values = result.stdout.rpartition("\n")
    assert json.loads(values) == list(SECRETS.values()), result.stdout + result.stderr
    assert not [secret for secret in HIDDEN if secret in info], info
    assert all(shown in info for shown in SHOWN), info
    assert "pybroadcast.allowed_origins => no value => no value" in info  # the other entries as before


def test_phpinfo_as_a_page_shows_no_secret(tmp_path: Path) -> None:
    """The HTML phpinfo() of a web server (php -S), escaped as PHP escapes values."""
    (tmp_path / "info.php").write_text("<?php phpinfo(INFO_MODULES);")
    port = free_port()
    server = subprocess.Popen(php_command("-S", f"127.0.0.1:{port}", "-t", str(tmp_path),
                                          ini={**SECRETS, "pybroadcast.auth_url": "https://x.test/?a=<b>&key=k-s3cret"}),
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        assert server.stderr is not None
        for line in server.stderr:
            if "started" in line:
                break
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/info.php", timeout=10) as response:
            page = response.read().decode()
    finally:
        server.terminate()
        server.wait(10)
    assert "<td class=\"v\">***</td>" in page and "https://x.test/?a=&lt;b&gt;&amp;key=***" in page, page[-3000:]
    assert not [secret for secret in (*HIDDEN, "k-s3cret") if secret in page]


def _corpus(seed: int, count: int) -> list[tuple[str, list[str]]]:
    """Seeded URLs, each with the secrets it carries: a user part's password, secret query values
    under names as parse_qs reads them (case, %-escapes, '+'), among harmless parameters."""
    rng = random.Random(seed)
    names = ["password", "ssl_password", "PassWord", "pass%77ord", "token", "api_key", "apikey", "x_auth", "signature",
             "client_secret", "p%61ss"]
    harmless = ["db", "ssl_keyfile", "ssl_ca_certs", "socket_timeout", "k", "key_file", "app"]
    corpus = []
    for n in range(count):
        secrets = []
        scheme = rng.choice(["redis", "rediss", "unix", "https", "http"])
        user = ""
        if rng.random() < 0.5:
            secret = f"S{n}pw{rng.randint(0, 10 ** 6)}"
            user = rng.choice(["app", "", "a.b-c"]) + ":" + secret + "@"
            secrets.append(secret)
        host = rng.choice(["127.0.0.1", "redis.example", "localhost"]) + rng.choice(["", ":6379", ":6380"])
        path = rng.choice(["", "/", "/0", "/a/b"])
        params = []
        for _ in range(rng.randint(0, 5)):
            if rng.random() < 0.5:
                secret = f"S{n}q{rng.randint(0, 10 ** 6)}"
                params.append(f"{rng.choice(names)}={secret}")
                secrets.append(secret)
            else:
                params.append(f"{rng.choice(harmless)}={rng.choice(['1', '/etc/x.pem', 'v=w', ''])}")
        query = ("?" + rng.choice(["&", ";"]).join(params)) if params else ""
        fragment = rng.choice(["", "", "#frag"])
        corpus.append((f"{scheme}://{user}{host}{path}{query}{fragment}", secrets))
    return corpus


def test_c_and_python_redact_a_seeded_corpus_alike() -> None:
    """Both hide every secret of every URL, and show the rest the same (hosts written as urlsplit
    shows them: Python writes a host it parsed, C the host as written)."""
    corpus = _corpus(seed=3, count=300)
    with tempfile.NamedTemporaryFile("w", suffix=".json") as urls:
        json.dump([url for url, _ in corpus], urls)
        urls.flush()
        script = (f"$shown = []; foreach (json_decode(file_get_contents('{urls.name}')) as $url) {{"
                  " ini_set('pybroadcast.redis_url', $url); ob_start(); phpinfo(INFO_MODULES);"
                  " preg_match('/^pybroadcast.redis_url => (.*) => /m', ob_get_clean(), $m); $shown[] = $m[1]; }"
                  " echo json_encode($shown);")
        result = run_php(script)
    shown_by_c = json.loads(result.stdout)
    assert len(shown_by_c) == len(corpus), result.stderr
    for (url, secrets), c in zip(corpus, shown_by_c):
        python = redact_url(url)
        assert not [s for s in secrets if s in c or s in python], (url, c, python)
        assert c == python, url
    assert sum(bool(secrets) for _, secrets in corpus) > 200
