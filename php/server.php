<?php
// The demo hub: authenticates WebSocket clients from the same PHP session as the pages.
// Run: php -d extension=modules/pybroadcast.so php/server.php  (make demo does it)
require __DIR__ . '/bootstrap.php';

// Read sessions without sending cookies or cache headers (this is the CLI). Log to
// STDERR: in the CLI, output to STDOUT counts as "headers sent" and would make
// every later session_start() fail.
ini_set('session.use_cookies', '0');
ini_set('session.use_strict_mode', '0');
ini_set('session.cache_limiter', '');
$log = fn(string $line) => fwrite(STDERR, date('H:i:s') . " $line\n");

$server = new PyBroadcast\Server();  // listen, allowed_origins, …: from the environment or php.ini

$server->onAuthenticate(function (array $request): ?string {
    $id = $request['cookies'][session_name()] ?? '';
    if (!preg_match('/^[A-Za-z0-9,-]{22,256}$/', $id)) {
        return null;
    }
    session_id($id);
    if (!session_start(['read_and_close' => true])) {
        return null;
    }
    $user = $_SESSION['user_id'] ?? null;
    $_SESSION = [];
    return $user;
});

$server->onAuthorize(function (string $userId, string $channel): bool {
    // presence-lobby: everyone logged in; private-user-<id>: only that user.
    return $channel === DEMO_PRESENCE || $channel === "private-user-$userId";
});

$server->onJoin(fn(string $userId, string $channel) => $log("$userId joined $channel"));
$server->onLeave(fn(string $userId, string $channel) => $log("$userId left $channel"));

$server->run();
$log('hub stopped');
