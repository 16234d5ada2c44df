<?php
// send.php: POST channel, message, optional user → broadcast() or broadcastToUser().
// With an X-Socket-ID header (the Echo page), through the Pusher HTTP API to everyone but that connection.
require __DIR__ . '/bootstrap.php';
if (demo_user_or_401() === null) {
    return;
}
if ($_SERVER['REQUEST_METHOD'] !== 'POST') {
    demo_json(405, ['error' => 'POST channel, message and optionally user']);
    return;
}
$message = (string) ($_POST['message'] ?? '');
try {
    $socketId = $_SERVER['HTTP_X_SOCKET_ID'] ?? '';
    if (($_POST['user'] ?? '') !== '') {
        broadcastToUser($_POST['user'], $message);
    } elseif ($socketId !== '') {
        demo_pusher_trigger((string) ($_POST['channel'] ?? DEMO_CHANNEL), 'message', $message, $socketId);
    } else {
        broadcast((string) ($_POST['channel'] ?? DEMO_CHANNEL), $message);
    }
    demo_json(200, ['ok' => true]);
} catch (ValueError $e) {
    demo_json(422, ['error' => $e->getMessage()]);
} catch (PyBroadcast\Exception $e) {
    demo_json(503, ['error' => $e->getMessage()]);
}
