--TEST--
The environment overrides php.ini (options > env > ini > default)
--EXTENSIONS--
pybroadcast
--INI--
pybroadcast.socket=/tmp/from-ini.sock
--ENV--
PYBROADCAST_SOCKET=/tmp/from-env.sock
--FILE--
<?php
try { broadcast('news', 'x'); } catch (PyBroadcast\Exception $e) { echo $e->getMessage(), "\n"; }
?>
--EXPECT--
pybroadcast hub unreachable at unix socket /tmp/from-env.sock: no hub is running: the socket file does not exist (is PyBroadcast\Server::run() running with the same socket setting?)
