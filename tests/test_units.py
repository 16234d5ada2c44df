"""Units of the hub package that need no process: settings, validation, codecs."""

from __future__ import annotations

import json
import os

import pytest

from pybroadcast import events, settings, validation
from pybroadcast.dialects import native as protocol
from pybroadcast.drivers.redis import codec as event_codec


def test_settings_precedence_options_over_env_over_ini_over_default() -> None:
    ini = {"socket": b"/ini.sock", "listen": b":1000", "max_message_size": b"10"}
    env = {"PYBROADCAST_SOCKET": "/env.sock", "SERVER_ADDRESS": "127.0.0.1:2000"}
    resolved = settings.resolve({b"listen": b"127.0.0.3:3000"}, ini, env)
    assert resolved.listen == ("127.0.0.3", 3000)  # option
    assert resolved.socket == "/env.sock"  # env over ini
    assert resolved.max_message_size == 10  # ini (no env variable for it)
    assert resolved.driver == "memory"  # default
    assert settings.resolve(None, {}, {}).listen == ("", 8080)


def test_settings_defaults_match_the_spec() -> None:
    s = settings.resolve(None, {}, {})
    assert s.allowed_origins == ("http://localhost:8080",)
    assert s.redis_url == "redis://127.0.0.1:6379/0"
    assert s.max_message_size == 65536 and s.presence_ttl == 30 and s.auth_url == ""
    assert s.socket_path.endswith(f"/pybroadcast-{os.geteuid()}/hub.sock")  # a directory of the hub user's own


def test_allowed_origins_split_on_spaces_or_given_as_a_list() -> None:
    assert settings.resolve({"allowed_origins": "http://a https://b"}, {}, {}).allowed_origins == ("http://a", "https://b")
    assert settings.resolve({"allowed_origins": [b"http://a", b"http://b"]}, {}, {}).allowed_origins == ("http://a", "http://b")


def test_ipv6_listen_address() -> None:
    assert settings.resolve({"listen": "[::1]:9000"}, {}, {}).listen == ("::1", 9000)


@pytest.mark.parametrize("name", ["news", "a" * 200, "AZaz09_-=@,.;:", "presence-room.1"])
def test_valid_channels(name: str) -> None:
    assert validation.channel(name.encode()) == name


@pytest.mark.parametrize("name", ["", "a" * 201, "a b", "a/b", "ü", "a\n"])
def test_invalid_channels(name: str) -> None:
    with pytest.raises(ValueError):
        validation.channel(name.encode())


def test_user_ids_int_and_decimal_string_are_the_same() -> None:
    assert validation.user_id(7) == validation.user_id(b"7") == "7"
    with pytest.raises(ValueError):
        validation.user_id(True)


def test_message_size_counts_bytes_not_characters() -> None:
    assert validation.message("é" * 5, 10) == "é" * 5
    with pytest.raises(ValueError, match="11 bytes"):
        validation.message("é" * 5 + "x", 10)


def test_channel_kinds() -> None:
    assert validation.needs_authorization("private-x") and validation.needs_authorization("presence-x")
    assert not validation.needs_authorization("public-presence-x")
    assert validation.is_presence_channel("presence-x") and not validation.is_presence_channel("private-x")


def test_event_codec_round_trip_and_rejects_garbage() -> None:
    event = events.Event(events.MESSAGE, "news", 'hé "x" <b>')
    assert event_codec.decode(event_codec.encode(event)) == event
    assert event.kind == "message" and event.target == "news" and event.data == 'hé "x" <b>'
    named = events.Event(events.MESSAGE, "news", "x", "Shipped")
    assert event_codec.decode(event_codec.encode(named)) == named and named.name == "Shipped"
    assert event_codec.decode(b'["message","news","from an older node"]') == events.Event(events.MESSAGE, "news", "from an older node")
    for bad in (b"", b"[]", b'["nope","x",""]', b'["message",1,""]', b"{}", b'["message","x","",5]', b'["a","b","c","d","e"]'):
        with pytest.raises(ValueError):
            event_codec.decode(bad)


def test_server_frames_are_complete_unmasked_text_frames() -> None:
    for size in (10, 200, 70000):
        frame = protocol.NativeDialect().message("c", "x" * size)
        assert frame[0] == 0x81 and not frame[1] & 0x80
        payload = frame[2:] if size < 100 else frame[4:] if size < 65000 else frame[10:]
        assert json.loads(payload) == {"event": "message", "channel": "c", "data": "x" * size}


def test_reuse_port_needs_the_redis_driver() -> None:
    with pytest.raises(ValueError, match="'reuse_port' needs the redis driver"):
        settings.resolve({"reuse_port": "on"}, {}, {})
    assert settings.resolve({"reuse_port": "on", "driver": "redis"}, {}, {}).reuse_port == "on"
