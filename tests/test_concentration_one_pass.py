"""The concentration detector's one pass over a window gives each service's count and seller volumes as one
scan per service did: the same counts, the same float sums (added in deal order) in the same seller order."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from protocols.detectors import TradeFact
from protocols.detectors.concentration import _by_service

deals = st.lists(
    st.builds(
        TradeFact,
        st.integers(1, 10_000),
        st.integers(1, 50),
        st.sampled_from(["b1", "b2"]),
        st.sampled_from(["s1", "s2", "s3", "s4"]),
        st.sampled_from(["widget", "gadget", "gizmo"]),
        st.floats(0.01, 1e6, allow_nan=False),
    ),
    max_size=60,
)


@given(deals)
def test_one_pass_counts_and_volumes_are_those_of_a_scan_per_service(window: list[TradeFact]) -> None:
    counts, volumes = _by_service(window)
    assert sorted(counts) == sorted(volumes) == sorted({t.service for t in window})
    for service in counts:
        assert counts[service] == sum(1 for t in window if t.service == service)
        scanned: dict[str, float] = {}
        for t in window:
            if t.service == service:
                scanned[t.seller] = scanned.get(t.seller, 0.0) + t.price
        assert list(volumes[service].items()) == list(scanned.items())  # equal floats, sellers in the same order
