<?php
// users.php?channel=…: who is in a channel right now (getChannelUsers()).
require __DIR__ . '/bootstrap.php';
if (demo_user_or_401() === null) {
    return;
}
try {
    demo_json(200, ['users' => getChannelUsers((string) ($_GET['channel'] ?? DEMO_PRESENCE))]);
} catch (ValueError $e) {
    demo_json(422, ['error' => $e->getMessage()]);
} catch (PyBroadcast\Exception $e) {
    demo_json(503, ['error' => $e->getMessage()]);
}
