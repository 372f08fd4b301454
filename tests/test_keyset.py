"""Tests for turkbatch.keyset: compact sets and maps that must answer exactly like dicts."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from turkbatch.keyset import LOAD, KeyMap, KeySet

#: Keys as journals and jobs make them, and the characters that frame entries.
_KEY = st.one_of(
    st.text(st.sampled_from("ab\n\x1f#/é"), max_size=6),
    st.text(max_size=12),
    st.integers(min_value=0, max_value=10**6).map(lambda n: f"{n:024x}"),
)


class Key(str):
    """A str subclass that formats itself differently: it must still be its plain self."""

    def __format__(self, spec: str) -> str:
        return "not-" + str.__str__(self)


def test_keyset_holds_many_keys_exactly() -> None:
    """Thousands of keys, through several rebuilds: membership, size, iteration, equality."""
    keys = [f"{n:024x}" if n % 3 else f"id:row-{n}" for n in range(20 * LOAD * 64)]
    ks = KeySet()
    assert all(ks.add(k) for k in keys)
    assert not any(ks.add(k) for k in keys[::7])
    assert len(ks) == len(keys) and set(ks) == set(keys) and ks == set(keys)
    assert all(k in ks for k in keys)
    assert not any(k in ks for k in ("", "id:row-", "id:row-1", keys[1][:-1], keys[1] + "0"))
    assert repr(ks) == f"KeySet(<{len(keys)} keys>)"


def test_keyset_sized_from_the_start_needs_no_rebuild() -> None:
    """Given how many keys to expect, the set holds them as well as one that grew."""
    keys = [f"k{n}" for n in range(5000)]
    assert KeySet(keys, expected=len(keys)) == KeySet(keys) == set(keys)


def test_keys_the_separators_cannot_frame_stay_exact() -> None:
    """Keys holding a line break or a unit separator, or empty, never match another key."""
    odd = ["a\nb", "a\x1fb", "\n", "\x1f", "\x1f\n", "", "\ud800"]
    ks = KeySet(odd)
    assert ks == set(odd) and len(ks) == len(odd)
    for probe in ("a", "b", "a\n", "\nb", "a\x1f", "\x1fb", "ab", " "):
        assert probe not in ks
    plain = KeySet(["a", "b"])
    assert "a\nb" not in plain and "\na" not in plain and "a\x1f" not in plain
    assert "" not in plain


def test_keyset_answers_false_for_non_strings_and_plainly_for_str_subclasses() -> None:
    """Membership of anything but a string is False; a str subclass is its plain value."""
    ks = KeySet(["1", "a"])
    assert 1 not in ks and None not in ks and b"a" not in ks
    assert Key("a") in ks and not ks.add(Key("a"))
    assert ks.add(Key("b")) and "b" in ks and set(ks) == {"1", "a", "b"}


@settings(max_examples=200, deadline=None)
@given(adds=st.lists(_KEY, max_size=60), probes=st.lists(_KEY, max_size=20))
def test_keyset_behaves_like_a_set(adds: list[str], probes: list[str]) -> None:
    """Any keys, any order: add() says what a set would, and membership agrees."""
    ks, model = KeySet(), set()
    for key in adds:
        assert ks.add(key) == (key not in model)
        model.add(key)
    assert ks == model and len(ks) == len(model) and sorted(ks) == sorted(model)
    for key in probes + adds:
        assert (key in ks) == (key in model)


def test_keymap_keeps_the_first_value_of_each_key() -> None:
    """A key keeps its first value; values may hold separators; misses give None."""
    km = KeyMap()
    assert km.add("3ASG1", "12 1.25") and not km.add("3ASG1", "99 9.99")
    assert km.add("3ASG2", "") and km.add("odd\nkey", "7") and km.add("k", "two\nlines")
    assert km.add("u", "a\x1fb")
    assert km.get("3ASG1") == "12 1.25" and km.get("3ASG2") == "" and km.get("u") == "a\x1fb"
    assert km.get("odd\nkey") == "7" and km.get("k") == "two\nlines"
    assert km.get("3ASG") is None and km.get("ASG1") is None and "3ASG" not in km
    assert "3ASG2" in km and len(km) == 5
    assert dict(km.items()) == {
        "3ASG1": "12 1.25",
        "3ASG2": "",
        "odd\nkey": "7",
        "k": "two\nlines",
        "u": "a\x1fb",
    }


@settings(max_examples=200, deadline=None)
@given(entries=st.lists(st.tuples(_KEY, st.text(max_size=8)), max_size=60))
def test_keymap_behaves_like_a_dict_of_first_values(entries: list[tuple[str, str]]) -> None:
    """Any keys and values: the map holds what ``dict.setdefault`` would."""
    km: KeyMap = KeyMap()
    model: dict[str, str] = {}
    for key, value in entries:
        assert km.add(key, value) == (key not in model)
        model.setdefault(key, value)
    assert dict(km.items()) == model and len(km) == len(model)
    for key, _ in entries:
        assert km.get(key) == model[key]


def test_keymap_holds_many_entries() -> None:
    """Thousands of entries, through several rebuilds, keep their values."""
    km = KeyMap()
    for n in range(10 * LOAD * 64):
        km.add(f"3ASG{n:08d}", f"{n} 1.{n % 100:02d}")
    assert len(km) == 10 * LOAD * 64
    assert all(km.get(f"3ASG{n:08d}") == f"{n} 1.{n % 100:02d}" for n in range(0, len(km), 37))
