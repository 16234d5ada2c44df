<?php
// The browser builds of pusher-js and Laravel Echo, from the checkout's node_modules
// (make demo installs them, pinned in package-lock.json). Two files, nothing else.
$files = ['pusher.js' => 'pusher-js/dist/web/pusher.min.js', 'echo.js' => 'laravel-echo/dist/echo.iife.js'];
$path = isset($files[$_GET['f'] ?? '']) ? __DIR__ . '/../node_modules/' . $files[$_GET['f']] : null;
if ($path === null || !is_file($path)) {
    http_response_code(404);
    exit("not found (run make demo, which installs the JavaScript clients)\n");
}
header('Content-Type: text/javascript; charset=utf-8');
readfile($path);
