<?php
// users.php?channel=…: who is in a channel right now (getChannelUsers()).
require __DIR__ . '/bootstrap.php';
session_start(['read_and_close' => true]);
if (!isset($_SESSION['user_id'])) {
    demo_json(401, ['error' => 'not logged in']);
    return;
}
try {
    demo_json(200, ['users' => getChannelUsers((string) ($_GET['channel'] ?? DEMO_PRESENCE))]);
} catch (ValueError $e) {
    demo_json(422, ['error' => $e->getMessage()]);
} catch (PyBroadcast\Exception $e) {
    demo_json(503, ['error' => $e->getMessage()]);
}
