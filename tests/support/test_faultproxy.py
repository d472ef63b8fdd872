"""The fault proxy itself, in front of a ``ForeignHost`` (a plain recording upstream)."""

from __future__ import annotations

import pytest
import requests

from tests.support.faultproxy import FaultProxy, ForeignHost, Rule


def test_rules_fire_on_their_nth_occurrence_and_drop_after_or_before_forwarding() -> None:
    with ForeignHost() as upstream, FaultProxy(upstream.base_url) as proxy:
        after = proxy.add(Rule("POST", "/jobs", "drop_after", nth=2))
        before = proxy.add(Rule("GET", "/status/*", "drop_before"))
        url = proxy.base_url
        assert requests.post(url + "/jobs", data=b"one", timeout=5).status_code == 200
        with pytest.raises(requests.ConnectionError):
            requests.post(url + "/jobs", data=b"two", timeout=5)
        assert requests.post(url + "/jobs", data=b"three", timeout=5).status_code == 200
        with pytest.raises(requests.ConnectionError):
            requests.get(url + "/status/1", headers={"Authorization": "x"}, timeout=5)
        delayed = proxy.add(Rule("GET", "/slow", "delay", seconds=0.01))
        assert requests.get(url + "/slow", timeout=5).content == upstream.payload
    assert (after.seen, after.fired, before.fired, delayed.fired) == (3, 1, 1, 1)
    # the dropped POST reached the upstream (it "acted"); the dropped GET did not
    assert [s.path for s in upstream.seen] == ["/jobs", "/jobs", "/jobs", "/slow"]
    assert [s.outcome for s in proxy.seen] == ["200", "drop_after", "200", "drop_before", "200"]
    assert proxy.seen[3].authorization
    assert not upstream.saw_token


def test_rules_check_their_arguments() -> None:
    with pytest.raises(ValueError, match="unknown action"):
        Rule("GET", "*", "explode")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="rewrite="):
        Rule("GET", "*", "rewrite_json")
    with pytest.raises(ValueError, match="nth"):
        Rule("GET", "*", "delay", nth=0)
    with pytest.raises(ValueError, match="upstream"):
        FaultProxy("https://example.com")
