<?php
// Run in php-fpm: the cost of the first broadcast() in this worker (time, and memory: PSS from
// /proc/self/smaps_rollup, before the call and after it), then of warm calls.
function pss_kib(): int {
    preg_match('/^Pss:\s+(\d+) kB/m', (string) @file_get_contents('/proc/self/smaps_rollup'), $m);
    return (int) ($m[1] ?? 0);
}
$channel = $_GET['channel'] ?? 'bench-fpm';
$before = pss_kib();
$t = hrtime(true);
broadcast($channel, 'first');
$first = (hrtime(true) - $t) / 1e6;
$added = pss_kib() - $before;
$n = (int) ($_GET['n'] ?? 2000);
$t = hrtime(true);
for ($i = 0; $i < $n; $i++) {
    broadcast($channel, 'warm message number ' . $i);
}
$warm = (hrtime(true) - $t) / 1e3 / max($n, 1);
header('Content-Type: application/json');
echo json_encode(['first_call_ms' => $first, 'warm_call_us' => $warm, 'pss_added_kib' => $added, 'pid' => getmypid()]);
