<?php
// The fan-out benchmark's publisher: an app process calling broadcast() on a fixed schedule.
// Each message starts with the time it was published ("t=<seconds>|"), which clients subtract.
// php publish.php <channel> <messages per second> <count> <padding bytes>
[, $channel, $rate, $count, $padding] = $argv;
$rate = (float) $rate;
$padding = str_repeat('x', (int) $padding);
$start = hrtime(true);
for ($i = 0; $i < (int) $count; $i++) {
    $wait = $start + (int) ($i * 1e9 / $rate) - hrtime(true);
    if ($wait > 0) {
        usleep(intdiv($wait, 1000));
    }
    broadcast($channel, sprintf('t=%.6f|%s', microtime(true), $padding));
}
