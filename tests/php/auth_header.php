<?php
// An auth_url endpoint for tests: "Authorization: Bearer token-<id>" or cookie user=<id>.
header('Content-Type: application/json');
$auth = $_SERVER['HTTP_AUTHORIZATION'] ?? '';
if (preg_match('/^Bearer token-(\w+)$/', $auth, $m)) {
    echo json_encode(['user_id' => $m[1]]);
} elseif (isset($_COOKIE['user'])) {
    echo json_encode(['user_id' => (int) $_COOKIE['user']]);
} else {
    http_response_code(401);
    echo json_encode(['error' => 'who are you?']);
}
