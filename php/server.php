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

// listen, allowed_origins, …: from the environment or php.ini. The Pusher protocol too, for echo.php.
$server = new PyBroadcast\Server([
    'pusher_app_id' => getenv('PUSHER_APP_ID') ?: 'demo',
    'pusher_key'    => demo_pusher_key(),
    'pusher_secret' => getenv('PUSHER_APP_SECRET') ?: 'demo-secret-' . bin2hex(random_bytes(8)),
    'client_events' => 'members',  // Echo's whispers: the typing indicator of echo.php
]);

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

$server->onAuthorize(function (string $userId, string $channel): bool|array {
    // presence-lobby: everyone logged in (an array: allowed, and the member's user_info for
    // Echo's here()/joining()); private-user-<id>: only that user.
    if ($channel === DEMO_PRESENCE) {
        return ['name' => $userId];
    }
    return $channel === "private-user-$userId";
});

$server->onJoin(fn(string $userId, string $channel) => $log("$userId joined $channel"));
$server->onLeave(fn(string $userId, string $channel) => $log("$userId left $channel"));

$server->run();
$log('hub stopped');
