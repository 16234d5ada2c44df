<?php
// A hub whose onJoin forks: the child broadcasts (to its parent's hub) and exits.
$config = json_decode(getenv('PYB_TEST_HUB'), true);
$server = new PyBroadcast\Server($config['options']);
$server->onAuthenticate(fn(array $r) => $r['query']['user'] ?? null);
$server->onJoin(function (string $user, string $channel) {
    if ($channel !== 'fork') return;
    $pid = pcntl_fork();
    if ($pid === 0) {
        broadcast('fork', 'from child ' . getmypid());
        exit(0);
    }
    pcntl_waitpid($pid, $status);
    fwrite(STDERR, "HOOK child exited " . pcntl_wexitstatus($status) . "\n");
});
$server->run();
fwrite(STDERR, "RUN RETURNED\n");
