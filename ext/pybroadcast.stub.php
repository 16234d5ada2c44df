<?php

/** @generate-class-entries */

namespace {
    /**
     * Sends $message to every subscriber of $channel, on every node. $event is the
     * event name Pusher clients bind to (default "message"); native clients get it as "name".
     */
    function broadcast(string $channel, string $message, ?string $event = null): void {}

    /** Sends $message to every connection of one user, on every node ($event as for broadcast()). */
    function broadcastToUser(int|string $userId, string $message, ?string $event = null): void {}

    /**
     * The users present in $channel, each once, across every node.
     * @return list<string>
     */
    function getChannelUsers(string $channel): array {}

    /** Closes every connection of one user with code 4001, on every node. */
    function disconnectUser(int|string $userId): void {}

    /**
     * The newest $limit messages kept for $channel, oldest first. $position receives
     * the channel's ['epoch' => string, 'offset' => int] (its newest offset): a page
     * that renders these messages subscribes with it as "since" and misses nothing.
     * With history off (history_size = 0): [] and a null position.
     * @return list<array{offset: int, data: string, event: ?string}>
     */
    function getChannelHistory(string $channel, int $limit = 100, ?array &$position = null): array {}
}

namespace PyBroadcast {
    /**
     * A hub or broker could not be reached, or refused a request. getCode() says
     * whether the message may have gone out anyway.
     */
    class Exception extends \RuntimeException
    {
        /**
         * Nothing was sent (unreachable, refused, untrusted socket): safe to retry.
         * @var int
         */
        public const NOT_SENT = 1;

        /**
         * Sent, but not acknowledged in time: it may still be delivered; a retry may deliver it twice.
         * @var int
         */
        public const UNCONFIRMED = 2;
    }

    /** The hub of one node: run it from a long-running CLI script. */
    final class Server
    {
        public function __construct(array $options = []) {}

        /** $callback(array $request): string|int|null — the user id, or null to reject. */
        public function onAuthenticate(callable $callback): static {}

        /** $callback(string $userId, string $channel): bool — for private- and presence- channels. */
        public function onAuthorize(callable $callback): static {}

        /** $callback(string $userId, string $channel): void — the user became present. */
        public function onJoin(callable $callback): static {}

        /** $callback(string $userId, string $channel): void — the user stopped being present. */
        public function onLeave(callable $callback): static {}

        /** Serves until SIGINT or SIGTERM, then drains connections and returns. */
        public function run(): void {}
    }
}
