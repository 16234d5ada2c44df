/* Every setting of pybroadcast/settings.py (OPTIONS), once for the C side, in the same order:
 *   X(name, environment variable or NULL, php.ini check, how the C app route treats it)
 * The php.ini check (ext/pybroadcast.c): TEXT (Python judges it; SECRET and URL too, and
 * phpinfo() shows a SECRET as "***" and a URL without its password: ext/redaction.c), or a number
 * refused at once when it is out of range: INT and REAL positive, COUNT 0 or more. The treatment: see pyb_use
 * in ext/app_route.c. tests/test_app_route_c.py holds this list to OPTIONS. */
#ifndef PYB_SETTINGS_H
#define PYB_SETTINGS_H

#define PYB_SETTINGS(X) \
    X("listen", "SERVER_ADDRESS", TEXT, DECLINE_IF_SET) \
    X("allowed_origins", "ALLOWED_ORIGINS", TEXT, ANY_TEXT) \
    X("driver", "PYBROADCAST_DRIVER", TEXT, THE_DRIVER) \
    X("redis_url", "PYBROADCAST_REDIS_URL", URL, THE_REDIS_URL) \
    X("redis_prefix", "PYBROADCAST_REDIS_PREFIX", TEXT, THE_REDIS_PREFIX) \
    X("socket", "PYBROADCAST_SOCKET", TEXT, THE_SOCKET) \
    X("socket_owner", "PYBROADCAST_SOCKET_OWNER", TEXT, DECLINE_IF_SET) \
    X("auth_url", "PYBROADCAST_AUTH_URL", URL, ANY_TEXT) \
    X("max_message_size", NULL, INT, NUMBER_CHECKED) \
    X("presence_ttl", NULL, REAL, NUMBER_CHECKED) \
    X("callback_timeout", NULL, REAL, NUMBER_CHECKED) \
    X("ping_interval", NULL, REAL, NUMBER_CHECKED) \
    X("max_channels", NULL, INT, NUMBER_CHECKED) \
    X("max_frame_rate", NULL, REAL, NUMBER_CHECKED) \
    X("pusher_app_id", "PUSHER_APP_ID", TEXT, ANY_TEXT) \
    X("pusher_key", "PUSHER_APP_KEY", TEXT, ANY_TEXT) \
    X("pusher_secret", "PUSHER_APP_SECRET", SECRET, ANY_TEXT) \
    X("client_events", "PYBROADCAST_CLIENT_EVENTS", TEXT, DECLINE_IF_SET) \
    X("reuse_port", "PYBROADCAST_REUSE_PORT", TEXT, DECLINE_IF_SET) \
    X("history_size", "PYBROADCAST_HISTORY_SIZE", COUNT, THE_HISTORY_SIZE) \
    X("history_ttl", "PYBROADCAST_HISTORY_TTL", REAL, THE_HISTORY_TTL)

#endif
