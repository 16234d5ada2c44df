<?php
// A Pusher auth endpoint as Laravel's /broadcasting/auth answers it, for the tests.
// The user is the X-User header (a stand-in for the app's session). A channel is
// allowed when it ends with "-<user>" or contains "-ok". Without channel_name: user sign-in.
$key = getenv('PUSHER_APP_KEY');
$secret = getenv('PUSHER_APP_SECRET');
$user = $_SERVER['HTTP_X_USER'] ?? '';
$socket = $_POST['socket_id'] ?? '';
header('Content-Type: application/json');
if ($user === '') {
    http_response_code(403);
    exit('{}');
}
if (!isset($_POST['channel_name'])) {
    $data = json_encode(['id' => $user, 'name' => "User $user"]);
    exit(json_encode(['auth' => "$key:" . hash_hmac('sha256', "$socket::user::$data", $secret), 'user_data' => $data]));
}
$channel = $_POST['channel_name'];
if (!str_ends_with($channel, "-$user") && !str_contains($channel, '-ok')) {
    http_response_code(403);
    exit('{}');
}
if (str_starts_with($channel, 'presence-')) {
    $data = json_encode(['user_id' => $user, 'user_info' => ['name' => "User $user"]]);
    exit(json_encode(['auth' => "$key:" . hash_hmac('sha256', "$socket:$channel:$data", $secret), 'channel_data' => $data]));
}
echo json_encode(['auth' => "$key:" . hash_hmac('sha256', "$socket:$channel", $secret)]);
