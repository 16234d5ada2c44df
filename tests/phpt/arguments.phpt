--TEST--
Invalid arguments throw ValueError (or TypeError) before anything is sent
--EXTENSIONS--
pybroadcast
--INI--
pybroadcast.socket={PWD}/arguments-nobody.sock
--FILE--
<?php
$cases = [
    'empty channel'        => fn() => broadcast('', 'x'),
    'space in channel'     => fn() => broadcast('a b', 'x'),
    'slash in channel'     => fn() => broadcast('a/b', 'x'),
    'channel too long'     => fn() => broadcast(str_repeat('c', 201), 'x'),
    'invalid UTF-8'        => fn() => broadcast('news', "\xc3\x28"),
    'message too big'      => fn() => broadcast('news', str_repeat('m', 65537)),
    'user empty'           => fn() => broadcastToUser('', 'x'),
    'user too long'        => fn() => broadcastToUser(str_repeat('u', 201), 'x'),
    'user control char'    => fn() => broadcastToUser("a\nb", 'x'),
    'user invalid UTF-8'   => fn() => disconnectUser("\xff"),
    'direct invalid UTF-8' => fn() => broadcastToUser(7, "\xff"),
    'direct too big'       => fn() => broadcastToUser(7, str_repeat('m', 65537)),
    'users bad channel'    => fn() => getChannelUsers('no spaces please'),
    'disconnect empty'     => fn() => disconnectUser(''),
    'array channel'        => fn() => broadcast([], 'x'),
    'array user'           => fn() => disconnectUser([7]),
    'empty event name'     => fn() => broadcast('news', 'x', ''),
    'event name too long'  => fn() => broadcast('news', 'x', str_repeat('e', 201)),
    'event name control'   => fn() => broadcastToUser(7, 'x', "a\tb"),
    'event name UTF-8'     => fn() => broadcastToUser(7, 'x', "\xff"),
    'array event name'     => fn() => broadcast('news', 'x', []),
    'history bad channel'  => fn() => getChannelHistory('no spaces please'),
    'history limit < 0'    => fn() => getChannelHistory('news', -1),
    'history limit > max'  => fn() => getChannelHistory('news', 10001),
    'history limit string' => fn() => getChannelHistory('news', 'ten'),
];
foreach ($cases as $name => $call) {
    try {
        $call();
        echo "$name: no exception\n";
    } catch (Throwable $e) {
        echo "$name: ", get_class($e), ': ', $e->getMessage(), "\n";
    }
}
?>
--EXPECTF--
empty channel: ValueError: invalid channel '': use 1-200 characters of A-Z a-z 0-9 _ - = @ , . ; :
space in channel: ValueError: invalid channel 'a b': use 1-200 characters of A-Z a-z 0-9 _ - = @ , . ; :
slash in channel: ValueError: invalid channel 'a/b': use 1-200 characters of A-Z a-z 0-9 _ - = @ , . ; :
channel too long: ValueError: invalid channel '%s': use 1-200 characters of A-Z a-z 0-9 _ - = @ , . ; :
invalid UTF-8: ValueError: message is not valid UTF-8
message too big: ValueError: message is 65537 bytes, over max_message_size (65536)
user empty: ValueError: invalid user id '': use 1-200 printable characters
user too long: ValueError: invalid user id '%s': use 1-200 printable characters
user control char: ValueError: invalid user id 'a\nb': use 1-200 printable characters
user invalid UTF-8: ValueError: user id is not valid UTF-8
direct invalid UTF-8: ValueError: message is not valid UTF-8
direct too big: ValueError: message is 65537 bytes, over max_message_size (65536)
users bad channel: ValueError: invalid channel 'no spaces please': use 1-200 characters of A-Z a-z 0-9 _ - = @ , . ; :
disconnect empty: ValueError: invalid user id '': use 1-200 printable characters
array channel: TypeError: broadcast(): Argument #1 ($channel) must be of type string, array given
array user: TypeError: disconnectUser(): Argument #1 ($userId) must be of type string|int, array given
empty event name: ValueError: invalid event name '': use 1-200 printable characters, or null
event name too long: ValueError: invalid event name '%s': use 1-200 printable characters, or null
event name control: ValueError: invalid event name 'a\tb': use 1-200 printable characters, or null
event name UTF-8: ValueError: event name is not valid UTF-8
array event name: TypeError: broadcast(): Argument #3 ($event) must be of type ?string, array given
history bad channel: ValueError: invalid channel 'no spaces please': use 1-200 characters of A-Z a-z 0-9 _ - = @ , . ; :
history limit < 0: ValueError: getChannelHistory(): Argument #2 ($limit) must be greater than or equal to 0
history limit > max: ValueError: limit must be 0 to 10000, got 10001
history limit string: TypeError: getChannelHistory(): Argument #2 ($limit) must be of type int, string given
