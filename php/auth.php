<?php
// auth.php: 200 {"user_id": …} for a logged-in session, else 401 (the hub's auth_url).
require __DIR__ . '/bootstrap.php';
session_start(['read_and_close' => true]);
if (isset($_SESSION['user_id'])) {
    demo_json(200, ['user_id' => $_SESSION['user_id']]);
} else {
    demo_json(401, ['error' => 'not logged in']);
}
