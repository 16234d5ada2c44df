<?php
// The hub the tests run: behaviour comes from the JSON in PYB_TEST_HUB.
//   options:    PyBroadcast\Server options
//   authorize:  "prefix" (allow a user when the channel ends with "-<user>" or contains "-ok"),
//               "none" (no authorizer), "throw", "slow", "return:<PHP expression>" (returns its value)
//   authenticate: "query" (?user= or cookie "user"), "none", "throw", "slow", "return:<PHP expression>"
//   hooks:      "log", "none", "throw", "slow", "broadcast" (onJoin broadcasts to "hooks")
// Every callback writes one line "HOOK <name> <args>" to stderr for the tests to await.
$config = json_decode(getenv('PYB_TEST_HUB') ?: '{}', true);
$say = function (string $line): void { fwrite(STDERR, "HOOK $line\n"); };
$server = new PyBroadcast\Server($config['options'] ?? []);

$auth = $config['authenticate'] ?? 'query';
if ($auth !== 'none') {
    $server->onAuthenticate(function (array $request) use ($auth, $say) {
        $say('authenticate ' . json_encode($request));
        if ($auth === 'throw') throw new RuntimeException('auth exploded');
        if ($auth === 'slow') sleep(3);
        if (str_starts_with($auth, 'return:')) return eval('return ' . substr($auth, 7) . ';');
        $user = $request['query']['user'] ?? $request['cookies']['user'] ?? null;
        return preg_match('/^[0-9]+$/', (string) $user) ? (int) $user : $user;  // ints too: the hub must treat 7 and "7" alike
    });
}

$authorize = $config['authorize'] ?? 'prefix';
if ($authorize !== 'none') {
    $server->onAuthorize(function (string $user, string $channel) use ($authorize, $say) {
        $say("authorize $user $channel");
        if ($authorize === 'throw') throw new LogicException('authorizer exploded');
        if ($authorize === 'slow') sleep(3);
        if (str_starts_with($authorize, 'return:')) return eval('return ' . substr($authorize, 7) . ';');
        return str_ends_with($channel, "-$user") || str_contains($channel, '-ok');
    });
}

$hooks = $config['hooks'] ?? 'log';
if ($hooks !== 'none') {
    foreach (['join' => 'onJoin', 'leave' => 'onLeave'] as $name => $method) {
        $server->$method(function (string $user, string $channel) use ($name, $hooks, $say) {
            $say("$name $user $channel");
            if ($hooks === 'throw') throw new DomainException("$name hook exploded");
            if ($hooks === 'slow') sleep(3);
            if ($hooks === 'broadcast' && $channel !== 'hooks') {
                broadcast('hooks', "$name $user $channel " . json_encode(getChannelUsers($channel)));
            }
        });
    }
}

$server->run();
fwrite(STDERR, "RUN RETURNED\n");
exit(0);
