<?php
// login.php?user=<id>: starts a PHP session for that user. Demo only: no password.
require __DIR__ . '/bootstrap.php';
$user = (string) ($_GET['user'] ?? '');
if (!preg_match('/^[A-Za-z0-9_.-]{1,64}$/', $user)) {
    demo_json(400, ['error' => 'user must be 1-64 letters, digits, _ . -']);
    return;
}
session_start();
session_regenerate_id(true);
$_SESSION['user_id'] = $user;
header('Location: index.php');
