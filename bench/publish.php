<?php
// The fan-out benchmark's publisher: an app process calling broadcast() on a fixed schedule.
// Each message starts with the time it was published ("t=<seconds>|"), which clients subtract.
// php publish.php <channel> <messages per second> <count> <padding bytes> [<warm-up messages>]
// With warm-up messages: publishes them on the same schedule, prints "warm", and publishes the
// <count> measured ones once a line arrives on stdin (the bench has counted the warm-up's bytes).
[, $channel, $rate, $count, $padding] = $argv;
$warm = (int) ($argv[5] ?? 0);
$rate = (float) $rate;
$padding = str_repeat('x', (int) $padding);

function publish(string $channel, float $rate, int $count, string $padding): void
{
    $start = hrtime(true);
    for ($i = 0; $i < $count; $i++) {
        $wait = $start + (int) ($i * 1e9 / $rate) - hrtime(true);
        if ($wait > 0) {
            usleep(intdiv($wait, 1000));
        }
        broadcast($channel, sprintf('t=%.6f|%s', microtime(true), $padding));
    }
}

if ($warm > 0) {
    publish($channel, $rate, $warm, $padding);
    echo "warm\n";
    fflush(STDOUT);
    fgets(STDIN);
}
publish($channel, $rate, (int) $count, $padding);
