"""
MTurk-style pagination over the world's creation-ordered indexes.

A page holds at most ``MaxResults`` items (default 10); ``NumResults`` counts the items on
this page; ``NextToken`` is present only while more items remain, unless the world's
``trailing_next_token`` quirk is on, in which case the final non-empty page carries one
too and following it yields an empty page without a token (aws-sdk-js#2522).

A token is an opaque keyset cursor: base64 of the world generation, a digest of the
listing (operation and filters) and the creation sequence number of the last item
returned. Items that change between pages (a request accepted, an assignment approved)
are therefore never skipped and never repeated. A token from another listing, from
before :meth:`World.reset`, or not issued at all is refused with MTurk's
ParameterValidationError for ``NextToken``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from bisect import bisect_right
from collections.abc import Callable, Sequence
from typing import Any, Protocol, TypeVar

from turkbatch.sim import world_errors as err
from turkbatch.sim.world_records import Json
from turkbatch.sim.world_state import State

DEFAULT_PAGE_SIZE = 10
"""Items per page when ``MaxResults`` is left out [R]."""


class Sequenced(Protocol):
    """Anything listed: it knows its creation sequence number."""

    @property
    def seq(self) -> int:
        """The item's creation sequence number (listing order)."""
        ...


T = TypeVar("T", bound=Sequenced)


def _seq(item: Sequenced) -> int:
    return item.seq


def _scope_digest(scope: str) -> str:
    return hashlib.blake2b(scope.encode(), digest_size=6).hexdigest()


def encode_token(generation: int, scope: str, after: int) -> str:
    """Return the NextToken that resumes ``scope`` after sequence number ``after``."""
    raw = f"{generation}:{_scope_digest(scope)}:{after}".encode()
    return base64.urlsafe_b64encode(raw).decode()


def decode_token(token: str, generation: int, scope: str) -> int:
    """
    Return the sequence number a NextToken resumes after.

    Raises:
        ApiError: ParameterValidationError when the token is not one this listing issued.
    """
    try:
        text = base64.urlsafe_b64decode(token.encode()).decode()
        gen, digest, after = text.split(":")
        if int(gen) == generation and digest == _scope_digest(scope):
            return int(after)
    except (binascii.Error, UnicodeError, ValueError):
        pass
    raise err.invalid_next_token(token)


def paginate(
    state: State,
    params: dict[str, Any],
    *,
    scope: str,
    items: Sequence[T],
    result_key: str,
    render: Callable[[T], Json],
    keep: Callable[[T], bool] | None = None,
) -> Json:
    """
    Return one page of ``items`` (sorted by ``seq``) as an MTurk List* output.

    Args:
        state: the world (its generation and trailing-token quirk).
        params: the request (``MaxResults``, ``NextToken``).
        scope: names the listing (operation and filters); tokens are bound to it.
        items: the index to page through, in ascending ``seq`` order.
        result_key: the output member holding the items (``"HITs"``, ...).
        render: turns one item into its JSON structure.
        keep: filter; items for which it is false are neither shown nor counted.
    """
    generation = state.generation
    limit = params.get("MaxResults") or DEFAULT_PAGE_SIZE
    token = params.get("NextToken")
    after = -1 if token is None else decode_token(token, generation, scope)
    page: list[T] = []
    more = False
    for index in range(bisect_right(items, after, key=_seq), len(items)):
        item = items[index]
        if keep is not None and not keep(item):
            continue
        if len(page) == limit:
            more = True
            break
        page.append(item)
    out: Json = {"NumResults": len(page), result_key: [render(item) for item in page]}
    if page and (more or state.trailing_next_token):
        out["NextToken"] = encode_token(generation, scope, page[-1].seq)
    return out
