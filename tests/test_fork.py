"""fork() inside the hub process (php-fpm and pcntl users do this)."""

from __future__ import annotations

import asyncio

from support import ROOT, client, next_event, subscribe


async def test_hook_that_forks_a_broadcasting_child(make_hub) -> None:
    hub = make_hub(script=str(ROOT / "tests" / "php" / "fork_hub.php"))
    ws = await client(hub)
    await subscribe(ws, "fork")
    assert (await next_event(ws, "message"))["data"].startswith("from child ")
    hub.log.wait_for(r"HOOK child exited 0")
    # The parent hub is unharmed and still shuts down cleanly.
    await subscribe(ws, "fork")
    hub.process.terminate()
    assert await asyncio.to_thread(hub.process.wait, 20) == 0
    hub.log.wait_for("RUN RETURNED")


async def test_exit_inside_a_callback_stops_the_hub_and_exits(make_hub, tmp_path) -> None:
    script = tmp_path / "exit_hub.php"
    script.write_text("""<?php
$config = json_decode(getenv('PYB_TEST_HUB'), true);
$server = new PyBroadcast\\Server($config['options']);
$server->onAuthenticate(function (array $r) { if (($r['query']['user'] ?? '') === 'quit') exit(3); return '1'; });
$server->run();
fwrite(STDERR, "NOT REACHED\\n");
""")
    hub = make_hub(script=str(script))
    ws = await client(hub)
    from support import open_client
    try:
        await open_client(hub, user="quit")
    except Exception:
        pass
    assert await asyncio.to_thread(hub.process.wait, 20) == 3
    assert not hub.log.matching("NOT REACHED")
    await ws.close()
