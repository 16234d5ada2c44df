--TEST--
php.ini settings: listed, used by app calls, overridden by the environment
--EXTENSIONS--
pybroadcast
--INI--
pybroadcast.socket=/tmp/from-ini.sock
pybroadcast.max_message_size=10
--ENV--
PYBROADCAST_DRIVER=memory
--FILE--
<?php
var_dump(ini_get('pybroadcast.socket'), ini_get('pybroadcast.driver'), ini_get('pybroadcast.listen'));
var_dump(is_file(ini_get('pybroadcast.python')), is_dir(ini_get('pybroadcast.hub_path') . '/pybroadcast'));
try { broadcast('news', str_repeat('m', 11)); } catch (ValueError $e) { echo $e->getMessage(), "\n"; }
try { broadcast('news', 'short'); } catch (PyBroadcast\Exception $e) { echo $e->getMessage(), "\n"; }
ini_set('pybroadcast.socket', '/tmp/changed-at-runtime.sock');
try { broadcast('news', 'short'); } catch (PyBroadcast\Exception $e) { echo $e->getMessage(), "\n"; }
ini_set('pybroadcast.driver', 'carrier-pigeon');  // PYBROADCAST_DRIVER in the environment wins
try { broadcast('news', 'short'); } catch (PyBroadcast\Exception $e) { echo "env won\n"; }
var_dump(ini_set('pybroadcast.max_message_size', 'lots'), ini_get('pybroadcast.max_message_size'));  // refused at once
?>
--EXPECT--
string(18) "/tmp/from-ini.sock"
string(0) ""
string(0) ""
bool(true)
bool(true)
message is 11 bytes, over max_message_size (10)
pybroadcast hub unreachable at unix socket /tmp/from-ini.sock: no hub is running: the socket file does not exist (is PyBroadcast\Server::run() running with the same socket setting?)
pybroadcast hub unreachable at unix socket /tmp/changed-at-runtime.sock: no hub is running: the socket file does not exist (is PyBroadcast\Server::run() running with the same socket setting?)
env won
bool(false)
string(2) "10"
