<?php
// Shared by the demo pages and the demo hub: one session store, one config.
// Demo only: a real app keeps its own session configuration.
ini_set('session.save_path', getenv('DEMO_SESSION_DIR') ?: sys_get_temp_dir());
ini_set('session.use_strict_mode', '1');
const DEMO_CHANNEL = 'news';
const DEMO_PRESENCE = 'presence-lobby';

function demo_hub_url(): string {
    $port = getenv('DEMO_HUB_PORT') ?: '8080';
    $host = parse_url('http://' . ($_SERVER['HTTP_HOST'] ?? 'localhost'), PHP_URL_HOST);
    return "ws://$host:$port/ws";
}

/** The demo's Pusher key (the Echo page and the hub agree on it; a real app sets its own). */
function demo_pusher_key(): string {
    return getenv('PUSHER_APP_KEY') ?: 'demo-key';
}

/**
 * Publishes through the hub's Pusher HTTP API, skipping the connection $socketId: what
 * Laravel's broadcaster does for ->toOthers() with the X-Socket-ID header Echo adds.
 * (A Laravel app has the Pusher PHP SDK for this; the demo signs the request itself.)
 */
function demo_pusher_trigger(string $channel, string $event, string $data, string $socketId): void {
    $body = json_encode(['name' => $event, 'data' => $data, 'channels' => [$channel], 'socket_id' => $socketId]);
    $path = '/apps/' . (getenv('PUSHER_APP_ID') ?: 'demo') . '/events';
    $query = 'auth_key=' . demo_pusher_key() . '&auth_timestamp=' . time() . '&auth_version=1.0&body_md5=' . md5($body);
    $signature = hash_hmac('sha256', "POST\n$path\n$query", (string) getenv('PUSHER_APP_SECRET'));
    $url = 'http://127.0.0.1:' . (getenv('DEMO_HUB_PORT') ?: '8080') . "$path?$query&auth_signature=$signature";
    $context = stream_context_create(['http' => ['method' => 'POST', 'header' => "Content-Type: application/json\r\n",
                                                 'content' => $body, 'timeout' => 2, 'ignore_errors' => true]]);
    $answer = @file_get_contents($url, false, $context);
    if ($answer !== '{}') {
        throw new PyBroadcast\Exception('the Pusher HTTP API refused: ' . ($answer === false ? 'unreachable' : $answer));
    }
}

function demo_json(int $status, array $body): void {
    http_response_code($status);
    header('Content-Type: application/json');
    echo json_encode($body);
}

/** The logged-in user, or null after answering 401. */
function demo_user_or_401(): ?string {
    session_start(['read_and_close' => true]);
    if (!isset($_SESSION['user_id'])) {
        demo_json(401, ['error' => 'not logged in']);
        return null;
    }
    return $_SESSION['user_id'];
}
