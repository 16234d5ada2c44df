--TEST--
No hub: every function throws PyBroadcast\Exception naming the socket, and valid calls lose nothing silently
--EXTENSIONS--
pybroadcast
--INI--
pybroadcast.socket={PWD}/unreachable-nobody.sock
--FILE--
<?php
$calls = [
    fn() => broadcast('news', 'x'),
    fn() => broadcastToUser(7, 'x'),
    fn() => broadcastToUser('alice', 'x'),
    fn() => getChannelUsers('news'),
    fn() => disconnectUser(7),
    function () { $position = 'untouched'; try { getChannelHistory('news', 5, $position); } finally { echo "$position: "; } },
];
foreach ($calls as $call) {
    $t = microtime(true);
    try {
        $call();
        echo "no exception\n";
    } catch (PyBroadcast\Exception $e) {
        echo get_class($e), ' ', $e instanceof RuntimeException ? 'is' : 'is not', ' a RuntimeException: ',
            str_replace(__DIR__, 'DIR', $e->getMessage()), "\n";
    }
    if (microtime(true) - $t > 5) echo "too slow\n";
}
?>
--EXPECT--
PyBroadcast\Exception is a RuntimeException: pybroadcast hub unreachable at unix socket DIR/unreachable-nobody.sock: no hub is running: the socket file does not exist (is PyBroadcast\Server::run() running with the same socket setting?)
PyBroadcast\Exception is a RuntimeException: pybroadcast hub unreachable at unix socket DIR/unreachable-nobody.sock: no hub is running: the socket file does not exist (is PyBroadcast\Server::run() running with the same socket setting?)
PyBroadcast\Exception is a RuntimeException: pybroadcast hub unreachable at unix socket DIR/unreachable-nobody.sock: no hub is running: the socket file does not exist (is PyBroadcast\Server::run() running with the same socket setting?)
PyBroadcast\Exception is a RuntimeException: pybroadcast hub unreachable at unix socket DIR/unreachable-nobody.sock: no hub is running: the socket file does not exist (is PyBroadcast\Server::run() running with the same socket setting?)
PyBroadcast\Exception is a RuntimeException: pybroadcast hub unreachable at unix socket DIR/unreachable-nobody.sock: no hub is running: the socket file does not exist (is PyBroadcast\Server::run() running with the same socket setting?)
untouched: PyBroadcast\Exception is a RuntimeException: pybroadcast hub unreachable at unix socket DIR/unreachable-nobody.sock: no hub is running: the socket file does not exist (is PyBroadcast\Server::run() running with the same socket setting?)
