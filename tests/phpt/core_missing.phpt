--TEST--
A missing core is a clear PyBroadcast\Exception, not a crash
--EXTENSIONS--
pybroadcast
--INI--
pybroadcast.core=/nonexistent/pybroadcast_core.so
--FILE--
<?php
try { broadcast('news', 'x'); } catch (PyBroadcast\Exception $e) { echo $e->getMessage(), "\n"; }
try { new PyBroadcast\Server(); } catch (PyBroadcast\Exception $e) { echo "server: ", $e->getMessage(), "\n"; }
?>
--EXPECTF--
cannot load the pybroadcast core /nonexistent/pybroadcast_core.so: %s: cannot open shared object file: No such file or directory
server: cannot load the pybroadcast core /nonexistent/pybroadcast_core.so: %s
