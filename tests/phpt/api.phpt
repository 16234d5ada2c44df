--TEST--
The API the stub declares: functions, classes, signatures
--EXTENSIONS--
pybroadcast
--FILE--
<?php
foreach (['broadcast', 'broadcastToUser', 'getChannelUsers', 'disconnectUser', 'getChannelHistory'] as $name) {
    $f = new ReflectionFunction($name);
    $params = array_map(fn($p) => $p->getType() . ($p->isPassedByReference() ? ' &$' : ' $') . $p->getName()
        . ($p->isDefaultValueAvailable() ? ' = ' . var_export($p->getDefaultValue(), true) : ''), $f->getParameters());
    echo $name, '(', implode(', ', $params), '): ', $f->getReturnType(), "\n";
}
var_dump(PyBroadcast\Exception::NOT_SENT, PyBroadcast\Exception::UNCONFIRMED);
var_dump(is_subclass_of('PyBroadcast\Exception', 'RuntimeException'));
$server = new ReflectionClass('PyBroadcast\Server');
var_dump($server->isFinal());
foreach ($server->getMethods() as $m) {
    $params = array_map(fn($p) => $p->getType() . ' $' . $p->getName(), $m->getParameters());
    echo $m->getName(), '(', implode(', ', $params), '): ', $m->getReturnType() ?? '-', "\n";
}
$s = new PyBroadcast\Server();
var_dump($s->onAuthenticate(fn() => 1) === $s, $s->onAuthorize('is_string') === $s,
         $s->onJoin(fn() => null) === $s, $s->onLeave(fn() => null) === $s);
try { $s->onJoin('no_such_function'); } catch (TypeError $e) { echo get_class($e), "\n"; }
try { clone $s; } catch (Error $e) { echo $e->getMessage(), "\n"; }
?>
--EXPECT--
broadcast(string $channel, string $message, ?string $event = NULL): void
broadcastToUser(string|int $userId, string $message, ?string $event = NULL): void
getChannelUsers(string $channel): array
disconnectUser(string|int $userId): void
getChannelHistory(string $channel, int $limit = 100, ?array &$position = NULL): array
int(1)
int(2)
bool(true)
bool(true)
__construct(array $options): -
onAuthenticate(callable $callback): static
onAuthorize(callable $callback): static
onJoin(callable $callback): static
onLeave(callable $callback): static
run(): void
bool(true)
bool(true)
bool(true)
bool(true)
TypeError
Trying to clone an uncloneable object of class PyBroadcast\Server
