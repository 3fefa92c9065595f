"""The one bounded cache: least recently used entries go first, by count and by weight."""

from __future__ import annotations

import pytest

from spark_zsc.engines.bounded_cache import BoundedCache

pytestmark = pytest.mark.any_line  # no Spark: a cache in one process


def test_the_least_recently_used_entry_goes_first():
    evicted = []
    cache = BoundedCache(2, on_evict=evicted.append)
    cache.put("a", 1)
    cache.put("b", 2)
    assert cache.get("a") == 1  # "a" is now more recent than "b"
    cache.put("c", 3)
    assert evicted == ["b"] and list(cache) == ["a", "c"] and "b" not in cache
    cache.touch(["a"])
    cache.make_room()  # room for one more before it is loaded: "c" goes, the touched "a" stays
    assert evicted == ["b", "c"] and list(cache) == ["a"]
    assert cache.get("missing", "default") == "default"


def test_the_summed_weight_is_bounded_and_a_replaced_entry_counts_once():
    cache = BoundedCache(100, max_weight=10, weight=lambda key, value: len(key))
    cache.put_all(["aaaa", "bbbb"], [1, 2])
    cache.put("aaaa", 3)  # replaced, not added: 8 of 10
    assert list(cache) == ["bbbb", "aaaa"] and cache.get("aaaa") == 3
    cache.put("cc", 4)  # 10 of 10: everything fits
    assert len(cache) == 3
    cache.put("d", 5)  # 11 would not fit: the least recent goes
    assert list(cache) == ["aaaa", "cc", "d"]


def test_stale_entries_are_dropped_and_reported():
    evicted = []
    cache = BoundedCache(5, on_evict=evicted.append)
    cache.put_all([("nli", "cuda:0"), ("nli", "cuda:1"), ("embedding", "cuda:0")], [1, 2, 3])
    dropped = cache.drop(lambda key: key[1] != "cuda:1")
    assert dropped == evicted == [("nli", "cuda:0"), ("embedding", "cuda:0")]
    assert list(cache) == [("nli", "cuda:1")]
    cache.clear()
    assert len(cache) == 0 and evicted[-1] == ("nli", "cuda:1")
