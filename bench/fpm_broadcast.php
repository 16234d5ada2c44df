<?php
// Run in php-fpm: the cost of the first broadcast() in this worker, then of warm calls.
$channel = $_GET['channel'] ?? 'bench-fpm';
$t = hrtime(true);
broadcast($channel, 'first');
$first = (hrtime(true) - $t) / 1e6;
$n = (int) ($_GET['n'] ?? 2000);
$t = hrtime(true);
for ($i = 0; $i < $n; $i++) {
    broadcast($channel, 'warm message number ' . $i);
}
$warm = (hrtime(true) - $t) / 1e3 / max($n, 1);
header('Content-Type: application/json');
echo json_encode(['first_call_ms' => $first, 'warm_call_us' => $warm, 'pid' => getmypid()]);
