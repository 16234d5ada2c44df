--TEST--
PyBroadcast\Server checks its options where they are written
--EXTENSIONS--
pybroadcast
--FILE--
<?php
$cases = [
    ['listen' => 'nowhere'],
    ['listen' => ':99999'],
    ['driver' => 'carrier-pigeon'],
    ['max_message_size' => 0],
    ['max_message_size' => 'lots'],
    ['presence_ttl' => -1],
    ['redis_url' => 'http://redis'],
    ['history_size' => -1],
    ['history_ttl' => 0],
    ['typo_option' => 1],
    ['listen', ':8080'],
    [],
    ['allowed_origins' => ['http://a.test', 'http://b.test']],
    ['listen' => '127.0.0.1:0', 'callback_timeout' => 2.5, 'ping_interval' => 10],
    ['history_size' => 0, 'history_ttl' => 0.5],
];
foreach ($cases as $options) {
    try {
        new PyBroadcast\Server($options);
        echo "ok\n";
    } catch (ValueError $e) {
        echo $e->getMessage(), "\n";
    }
}
?>
--EXPECT--
option 'listen' must look like ':8080' or '127.0.0.1:8080', got 'nowhere'
option 'listen' must look like ':8080' or '127.0.0.1:8080', got ':99999'
option 'driver' must be one of memory, redis, got 'carrier-pigeon'
option 'max_message_size' must be a positive number, got '0'
option 'max_message_size' must be a positive number, got 'lots'
option 'presence_ttl' must be a positive number, got '-1'
option 'redis_url' must be a redis://, rediss:// or unix:// URL, got 'http://redis'
option 'history_size' must be a whole number, 0 or more, got '-1'
option 'history_ttl' must be a positive number, got '0'
unknown option 'typo_option'; known options: listen, allowed_origins, driver, redis_url, redis_prefix, socket, socket_owner, auth_url, max_message_size, presence_ttl, callback_timeout, ping_interval, max_channels, max_frame_rate, pusher_app_id, pusher_key, pusher_secret, client_events, reuse_port, history_size, history_ttl
options must be an array of name => value
ok
ok
ok
ok
