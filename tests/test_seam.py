"""The C side of the seam matches the Python side: settings, callbacks, the functions C calls."""

from __future__ import annotations

import json
import re

import pytest

from pybroadcast import seam, settings
from support import ROOT, run_php

EXTENSION_ONLY = {"pybroadcast.python", "pybroadcast.hub_path", "pybroadcast.core"}
C_SOURCES = [*(ROOT / "ext").glob("*.c"), *(ROOT / "ext" / "core").glob("*.c")]


def test_php_ini_entries_are_exactly_the_settings() -> None:
    result = run_php("echo json_encode(array_keys(ini_get_all('pybroadcast', false)));")
    registered = set(json.loads(result.stdout))
    assert registered == {f"pybroadcast.{option.name}" for option in settings.OPTIONS} | EXTENSION_ONLY


@pytest.mark.parametrize("option", [o for o in settings.OPTIONS], ids=lambda o: o.name)
def test_php_ini_refuses_a_bad_number_at_once(option) -> None:
    name = f"pybroadcast.{option.name}"
    code = (f"echo json_encode([ini_set('{name}', 'lots'), ini_set('{name}', '-1'), "
            f"ini_set('{name}', '{option.default or 'x'}'), ini_get('{name}')]);")
    lots, negative, good, now = json.loads(run_php(code).stdout)
    if option.kind in ("int", "number", "count"):
        assert lots is False and negative is False, f"{name} took a bad {option.kind}"
    else:
        assert lots == "" and negative == "lots"  # text: anything goes here, settings.py judges it
    assert good is not False and now == (option.default or "x")


def test_a_count_setting_takes_0_and_refuses_a_sign_or_spaces() -> None:
    name = "pybroadcast.history_size"
    code = (f"echo json_encode([ini_set('{name}', '0'), ini_get('{name}'), ini_set('{name}', '+5'),"
            f" ini_set('{name}', ' 5'), ini_set('{name}', '5 '), ini_get('{name}')]);")
    assert json.loads(run_php(code).stdout) == ["", "0", False, False, False, "0"]
    for bad in ("+5", "-0", "1.5", "", "5_0"):
        with pytest.raises(ValueError):
            settings.resolve({"history_size": bad}, {}, {})
    assert settings.resolve({"history_size": "0"}, {}, {}).history_size == 0


@pytest.mark.parametrize("option", [o for o in settings.OPTIONS if o.name in ("listen", "driver", "redis_url")],
                         ids=lambda o: o.name)
def test_a_php_ini_value_reaches_python(option) -> None:
    """Python judges what php.ini holds: a bad value there is the Server's ValueError, naming it."""
    result = run_php("try { new PyBroadcast\\Server([]); echo 'accepted'; } catch (ValueError $e) { echo $e->getMessage(); }",
                     ini={f"pybroadcast.{option.name}": "nonsense"})
    assert result.stdout.startswith(f"option '{option.name}' must"), result.stdout + result.stderr


def test_server_methods_are_the_callbacks_in_slot_order() -> None:
    result = run_php("echo json_encode(array_values(array_filter(get_class_methods('PyBroadcast\\Server'),"
                     " fn($m) => str_starts_with($m, 'on'))));")
    assert json.loads(result.stdout) == ["on" + name.capitalize() for name in seam.CALLBACKS]
    enum = re.search(r"enum \{ SLOT_OPTIONS, (.*?), SLOT_COUNT \}", (ROOT / "ext" / "php_pybroadcast.h").read_text())
    assert enum and enum.group(1).split(", ") == [f"SLOT_{name.upper()}" for name in seam.CALLBACKS]


def test_c_reaches_python_only_through_the_seam() -> None:
    text = "\n".join(path.read_text() for path in C_SOURCES)
    assert re.findall(r'pyb_import\("([^"]+)"\)', text) == [], "C imports a module other than PYB_SEAM"
    called = set(re.findall(r'call_client\([^,]+, "(\w+)"', text))
    called |= set(re.findall(r'PyObject_CallMethod\(module, "(\w+)"', text))
    called |= set(re.findall(r'PyObject_GetAttrString\(module, "(\w+)"', text))
    assert called and called <= set(seam.__all__), called - set(seam.__all__)


def test_a_php_array_containing_itself_is_a_value_error_not_a_crash() -> None:
    code = ("$a = ['x']; $a[] = &$a; $deep = 1; for ($i = 0; $i < 100; $i++) { $deep = [$deep]; }"
            "foreach ([$a, $deep] as $value) { try { new PyBroadcast\\Server(['allowed_origins' => $value]); }"
            " catch (ValueError $e) { echo $e->getMessage(), \"\\n\"; } }")
    result = run_php(code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("nested over 64 levels") == 2, result.stdout
