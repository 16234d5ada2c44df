<?php
// Run in php-fpm: the cost of the first broadcast() in this worker (time, and memory from
// /proc/self/smaps_rollup before the call and after it: PSS, and the pages it wrote, which no
// other process shares), then of warm calls.
function memory_kib(): array {
    $rollup = (string) @file_get_contents('/proc/self/smaps_rollup');
    $field = fn(string $name): int => preg_match("/^$name:\\s+(\\d+) kB/m", $rollup, $m) ? (int) $m[1] : 0;
    return ['pss' => $field('Pss'), 'written' => $field('Private_Dirty')];
}
$channel = $_GET['channel'] ?? 'bench-fpm';
memory_kib();  // once before: its own first run faults in PCRE's code and JIT-compiles its pattern
$before = memory_kib();
$t = hrtime(true);
broadcast($channel, 'first');
$first = (hrtime(true) - $t) / 1e6;
$after = memory_kib();
$n = (int) ($_GET['n'] ?? 2000);
$t = hrtime(true);
for ($i = 0; $i < $n; $i++) {
    broadcast($channel, 'warm message number ' . $i);
}
$warm = (hrtime(true) - $t) / 1e3 / max($n, 1);
header('Content-Type: application/json');
echo json_encode(['first_call_ms' => $first, 'warm_call_us' => $warm, 'pss_added_kib' => $after['pss'] - $before['pss'],
                  'written_added_kib' => $after['written'] - $before['written'], 'pid' => getmypid()]);
