"""Every public name (``gstreamer.__all__``) and each of its public members has a docstring,
so the API reference (mkdocstrings, numpydoc style) documents all of them."""

from __future__ import annotations

import inspect

import gstreamer


def _undocumented() -> list[str]:
    missing: list[str] = []
    for name in gstreamer.__all__:
        obj = getattr(gstreamer, name)
        if isinstance(obj, str):  # __version__
            continue
        if not inspect.getdoc(obj):
            missing.append(name)
        if not inspect.isclass(obj):
            continue
        for klass in obj.__mro__:
            if not klass.__module__.startswith("gstreamer"):
                continue
            for member, value in vars(klass).items():
                if member.startswith("_"):
                    continue
                if isinstance(value, (staticmethod, classmethod)):
                    value = value.__func__
                if not (isinstance(value, property) or inspect.isfunction(value)):
                    continue  # plain class attributes
                # the member as the public class exposes it (an override may add the doc)
                seen = inspect.getattr_static(obj, member)
                if isinstance(seen, (staticmethod, classmethod)):
                    seen = seen.__func__
                if not (seen.__doc__ or "").strip():
                    missing.append(f"{name}.{member}")
    return sorted(set(missing))


def test_every_public_name_and_member_has_a_docstring():
    assert _undocumented() == []
