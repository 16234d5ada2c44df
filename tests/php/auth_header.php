<?php
// An auth_url endpoint for tests: "Authorization: Bearer token-<id>" or cookie user=<id>;
// "Authorization: Json <json>" answers 200 with {"user_id": <json>}.
header('Content-Type: application/json');
$auth = $_SERVER['HTTP_AUTHORIZATION'] ?? '';
if (str_starts_with($auth, 'Json ')) {
    echo '{"user_id":' . substr($auth, 5) . '}';
} elseif (preg_match('/^Bearer token-(\w+)$/', $auth, $m)) {
    echo json_encode(['user_id' => $m[1]]);
} elseif (isset($_COOKIE['user'])) {
    echo json_encode(['user_id' => (int) $_COOKIE['user']]);
} else {
    http_response_code(401);
    echo json_encode(['error' => 'who are you?']);
}
