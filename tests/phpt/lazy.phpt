--TEST--
Loading the extension maps no libpython, starts no interpreter and no thread until a function is called
--EXTENSIONS--
pybroadcast
--INI--
pybroadcast.socket={PWD}/lazy-nobody.sock
--FILE--
<?php
function interpreter(): string {
    ob_start();
    phpinfo(INFO_MODULES);
    preg_match('/Python interpreter => (.*)/', ob_get_clean(), $m);
    return $m[1];
}
function libpython(): string {
    return str_contains(file_get_contents('/proc/self/maps'), 'libpython') ? 'mapped' : 'not mapped';
}
function threads(): int {
    preg_match('/^Threads:\s+(\d+)/m', file_get_contents('/proc/self/status'), $m);
    return (int) $m[1];
}
echo interpreter(), ' threads=', threads(), ' libpython ', libpython(), "\n";
try { broadcast('news', 'x'); } catch (PyBroadcast\Exception $e) { echo "unreachable\n"; }
echo interpreter(), ' threads=', threads(), ' libpython ', libpython(), "\n";
?>
--EXPECT--
not started threads=1 libpython not mapped
unreachable
started threads=1 libpython mapped
