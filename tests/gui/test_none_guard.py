"""The guard against PySide6 6.12.0's None reference leak (gui/none_guard.py)."""

from __future__ import annotations

import ctypes
import sys

import pytest

from resnet_studio.gui import none_guard

pre_312 = pytest.mark.skipif(sys.version_info >= (3, 12), reason="None is immortal from 3.12")


def _leaky_call() -> None:
    """What a broken binding does: return None without having taken a reference."""
    ctypes.pythonapi.Py_DecRef(ctypes.py_object(None))


@pre_312
def test_the_leak_is_measured():
    try:
        assert none_guard.none_refcount_leak(_leaky_call, calls=500) == 500
    finally:
        for _ in range(501):  # give back what the probe took (and its first call)
            ctypes.pythonapi.Py_IncRef(ctypes.py_object(None))
    assert none_guard.none_refcount_leak(lambda: None, calls=500) == 0


@pre_312
def test_a_leak_makes_none_practically_immortal(capsys):
    if none_guard.none_is_protected():
        pytest.skip("this session's None is protected already")
    before = sys.getrefcount(None)
    try:
        assert none_guard.protect_none(_leaky_call)
        assert sys.getrefcount(None) >= none_guard.PROTECTED_REFCOUNT
        assert "PySide6-Essentials!=6.12.0" in capsys.readouterr().err
        assert not none_guard.protect_none(_leaky_call)  # once is enough
    finally:
        ctypes.c_ssize_t.from_address(id(None)).value -= none_guard.PROTECTED_REFCOUNT
        for _ in range(sys.getrefcount(None), before):
            ctypes.pythonapi.Py_IncRef(ctypes.py_object(None))


def test_a_sound_binding_is_left_alone(capsys):
    if none_guard.none_is_protected():
        pytest.skip("None is immortal here")
    assert not none_guard.protect_none(lambda: None)
    assert capsys.readouterr().err == ""


def test_void_qt_calls_cannot_drain_none_in_the_app(qapp):
    """What the app runs with: either this PySide6 keeps None's count, or protect_none
    (called by run_app) had to step in and did."""
    if none_guard.none_refcount_leak() > 100:
        none_guard.protect_none()
        assert none_guard.none_is_protected()
