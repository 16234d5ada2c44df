<?php
// Test endpoint for `php -S` and php-fpm: broadcasts what it is given.
// GET/POST: channel, message (base64 in message64 keeps every byte intact), user.
$message = isset($_REQUEST['message64']) ? base64_decode($_REQUEST['message64']) : ($_REQUEST['message'] ?? '');
header('Content-Type: application/json');
try {
    if (isset($_REQUEST['user'])) {
        broadcastToUser($_REQUEST['user'], $message);
    } else {
        broadcast($_REQUEST['channel'] ?? '', $message);
    }
    echo json_encode(['ok' => true, 'pid' => getmypid(),
                      'python' => str_contains(file_get_contents('/proc/self/maps'), 'libpython')]);
} catch (Throwable $e) {
    http_response_code(500);
    echo json_encode(['ok' => false, 'error' => get_class($e) . ': ' . $e->getMessage(), 'pid' => getmypid()]);
}
