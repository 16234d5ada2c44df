"""Redis driver configuration: key prefix, password and database, rediss:// (TLS)."""

from __future__ import annotations

import itertools
import json
import os

import pytest

from harness.redis_server import RedisServer
from support import ack, client, free_port, next_event, run_php, subscribe

_users = itertools.count()


def redis_options(url: str, prefix: str) -> dict[str, str]:
    return {"driver": "redis", "redis_url": url, "redis_prefix": prefix}


def ini_of(options: dict[str, str]) -> dict[str, str]:
    return {f"pybroadcast.{k}": v for k, v in options.items()}


async def test_prefixes_keep_apps_apart_on_one_redis(make_hub, redis_server) -> None:
    a_opts, b_opts = redis_options(redis_server.url, "app-a"), redis_options(redis_server.url, "app-b")
    a_hub, b_hub = make_hub({"options": a_opts}), make_hub({"options": b_opts})
    a, b = await client(a_hub, "1"), await client(b_hub, "1")
    await subscribe(a, "news")
    await subscribe(b, "news")
    run_php("broadcast('news', 'for a');", ini=ini_of(a_opts))
    run_php("broadcast('news', 'for b');", ini=ini_of(b_opts))
    assert (await next_event(a, "message"))["data"] == "for a"
    assert (await next_event(b, "message"))["data"] == "for b"
    keys = {k.decode() for k in redis_server.client().keys("app-*")}
    assert keys and all(k.startswith(("app-a:", "app-b:")) for k in keys)
    assert "app-a:presence:news:conns" in keys and "app-b:presence:news:conns" in keys
    await a.close(); await b.close()


async def test_password_and_database_in_the_url_are_honoured(make_hub, redis_server) -> None:
    user = f"pyb{os.getpid()}x{next(_users)}"
    redis_server.client().acl_setuser(user, enabled=True, passwords=["+s3cret"], keys=["*"], channels=["*"],
                                      commands=["+@all"])
    url = f"redis://{user}:s3cret@127.0.0.1:{redis_server.port}/5"
    options = redis_options(url, "secured")
    hub = make_hub({"options": options})
    ws = await client(hub, "3")
    await subscribe(ws, "vault")
    assert run_php("broadcast('vault', 'in db 5');", ini=ini_of(options)).returncode == 0
    assert (await next_event(ws, "message"))["data"] == "in db 5"
    assert redis_server.client(db=5).exists("secured:presence:vault:conns") == 1
    assert redis_server.client(db=0).exists("secured:presence:vault:conns") == 0
    users = run_php("echo json_encode(getChannelUsers('vault'));", ini=ini_of(options)).stdout
    assert json.loads(users) == ["3"]
    wrong = redis_options(url.replace("s3cret", "wrong"), "secured")
    result = run_php("try { broadcast('vault', 'x'); } catch (PyBroadcast\\Exception $e) { echo $e->getMessage(); }",
                     ini=ini_of(wrong))
    assert result.stdout.startswith(f"redis at redis://{user}:***@127.0.0.1:{redis_server.port}/5 unreachable")
    assert "wrong" not in result.stdout  # the password never appears in messages
    await ws.close()


@pytest.fixture(scope="module")
def tls_redis():
    server = RedisServer(tls=True)
    yield server
    server.stop()


async def test_rediss_url_uses_tls(make_hub, tls_redis) -> None:
    options = redis_options(tls_redis.url, "tls")
    hub = make_hub({"options": options})
    ws = await client(hub, "4")
    await subscribe(ws, "secure")
    result = run_php("broadcast('secure', 'over tls'); echo json_encode(getChannelUsers('secure'));", ini=ini_of(options))
    assert json.loads(result.stdout) == ["4"], result.stderr
    assert (await next_event(ws, "message"))["data"] == "over tls"
    plain = redis_options(f"redis://127.0.0.1:{tls_redis.port}/0", "tls")  # TLS port, no TLS: refused
    result = run_php("try { broadcast('secure', 'x'); } catch (PyBroadcast\\Exception $e) { echo $e->getMessage(); }",
                     ini=ini_of(plain))
    assert result.stdout.startswith(f"redis at redis://127.0.0.1:{tls_redis.port}/0 unreachable"), result.stdout
    odd = redis_options(tls_redis.url.replace("rediss://", "redis://"), "tls")  # TLS options without TLS
    result = run_php("try { broadcast('secure', 'x'); } catch (PyBroadcast\\Exception $e) { echo $e->getMessage(); }",
                     ini=ini_of(odd))
    assert result.stdout.startswith("invalid redis_url redis://127.0.0.1:"), result.stdout + result.stderr
    await ws.close()


def test_hub_with_an_invalid_redis_url_fails_to_start(make_hub, tls_redis) -> None:
    odd = redis_options(tls_redis.url.replace("rediss://", "redis://"), "tls")
    with pytest.raises(AssertionError, match="invalid redis_url redis://127.0.0.1"):
        make_hub({"options": odd})


async def test_hub_starts_and_serves_locally_while_redis_is_down(make_hub) -> None:
    from support import free_port
    hub = make_hub({"options": redis_options(f"redis://127.0.0.1:{free_port()}/0", "down")})
    hub.log.wait_for(r"ERROR redis at .* unreachable")
    ws = await client(hub, "1")
    assert ack(await subscribe(ws, "local")) == {"event": "subscribed", "channel": "local"}
    await ws.close()


SECRET = "hunter2"


@pytest.mark.parametrize("query", ["password=hunter2", "db=0&pass%77ord=hunter2"])
async def test_a_password_in_the_urls_query_never_reaches_a_log(make_hub, query) -> None:
    """redis-py takes `password` from the query as from the user part (and decodes its name)."""
    hub = make_hub({"options": redis_options(f"redis://127.0.0.1:{free_port()}/0?{query}", "down")})
    [match] = await hub.log.await_for(r"ERROR redis at .* unreachable")
    assert "=***" in match.string, match.string
    result = run_php("try { broadcast('news', 'x'); } catch (PyBroadcast\\Exception $e) { echo $e->getMessage(); }",
                     ini=ini_of(redis_options(f"redis://127.0.0.1:{free_port()}/0?{query}", "down")))
    assert " unreachable" in result.stdout and "=***" in result.stdout, result.stdout + result.stderr
    assert SECRET not in result.stdout + result.stderr
    assert SECRET not in "\n".join(hub.log.matching(".*"))


@pytest.mark.parametrize("url, error, shown", [
    ("rediss://127.0.0.1:PORT/0?ssl_certfile=/nowhere.pem&ssl_password=hunter2&ssl_ca_certs=CA",
     "PyBroadcast\\Exception", "ssl_password=***&"),  # an encrypted key's password, for a file that is not there
    ("http://app:hunter2@127.0.0.1:PORT/0", "ValueError", "must be a redis://, rediss:// or unix:// URL, got 'http://app:***@"),
])
def test_other_secrets_in_the_url_never_reach_a_message(tls_redis, url, error, shown) -> None:
    url = url.replace("PORT", str(tls_redis.port)).replace("CA", tls_redis.ca)
    result = run_php(f"try {{ broadcast('news', 'x'); }} catch ({error} $e) {{ echo $e->getMessage(); }}",
                     ini=ini_of(redis_options(url, "tls")))
    assert shown in result.stdout, result.stdout + result.stderr
    assert SECRET not in result.stdout + result.stderr
