--TEST--
pcntl_fork() after the interpreter started: parent and children keep working and exit cleanly
--EXTENSIONS--
pybroadcast
pcntl
--INI--
pybroadcast.socket={PWD}/fork-nobody.sock
--FILE--
<?php
function attempt(): string {
    try { broadcast('news', 'x'); return 'sent'; } catch (PyBroadcast\Exception $e) { return 'unreachable'; }
}
echo 'parent before: ', attempt(), "\n";
$children = [];
for ($i = 0; $i < 5; $i++) {
    $pid = pcntl_fork();
    if ($pid === 0) {
        exit(attempt() === 'unreachable' ? 0 : 1);
    }
    $children[] = $pid;
}
$ok = 0;
foreach ($children as $pid) {
    pcntl_waitpid($pid, $status);
    $ok += (pcntl_wifexited($status) && pcntl_wexitstatus($status) === 0) ? 1 : 0;
}
echo "children ok: $ok\n";
echo 'parent after: ', attempt(), "\n";
?>
--EXPECT--
parent before: unreachable
children ok: 5
parent after: unreachable
