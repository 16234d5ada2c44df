<?php
// The benchmark hub: authenticates by ?user=, no hooks (hooks would measure PHP, not fan-out).
$server = new PyBroadcast\Server(json_decode(getenv('BENCH_HUB_OPTIONS') ?: '{}', true));
$server->onAuthenticate(fn(array $r) => $r['query']['user'] ?? null);
$server->run();
