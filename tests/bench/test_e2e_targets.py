"""The credit minimum and the target verdicts of the end-to-end benchmark (pure)."""

from __future__ import annotations

import pytest

from bench import e2e_targets as t


def test_credit_minimum_is_one_job_status_and_download_per_page() -> None:
    minimum = t.credit_minimum(1_000_000, 200_000)
    assert minimum.pages == 5
    assert (minimum.create, minimum.status, minimum.download) == (250, 5, 5)
    assert minimum.total == 260
    assert minimum.allowed == pytest.approx(273.0)
    assert minimum.to_dict()["total"] == 260


@pytest.mark.parametrize(
    ("records", "per_page", "pages"),
    [(0, 200_000, 1), (1, 200_000, 1), (200_000, 200_000, 1), (200_001, 200_000, 2),
     (10_000_000, 200_000, 50)],
)  # fmt: skip
def test_pages_round_up_and_an_empty_module_still_costs_a_job(
    records: int, per_page: int, pages: int
) -> None:
    assert t.pages_for(records, per_page) == pages


def test_pages_for_rejects_a_non_positive_page_size() -> None:
    with pytest.raises(ValueError, match="per_page"):
        t.pages_for(10, 0)


def test_credit_target_passes_at_the_allowance_and_fails_above_it() -> None:
    minimum = t.credit_minimum(1_000_000, 200_000)
    assert t.credits(273, minimum, "duckdb").verdict == "PASS"
    assert t.credits(274, minimum, "duckdb").verdict == "FAIL"
    assert t.credits(None, minimum, "duckdb").verdict == "SKIP"


def test_ratio_targets_compare_in_the_right_direction() -> None:
    assert t.ours_vs_floor(6.0, 5.0).verdict == "PASS"  # issue 17: <= 1.2x
    assert t.ours_vs_floor(6.1, 5.0).verdict == "FAIL"
    assert t.naive_vs_ours_pg(100.0, 10.0).verdict == "PASS"
    assert t.naive_vs_ours_pg(99.0, 10.0).verdict == "FAIL"
    assert t.naive_vs_ours_pg(None, 10.0).verdict == "SKIP"
    assert t.peak_rss(1024.0, 1_000_000).verdict == "PASS"
    assert t.peak_rss(1025.0, 1_000_000).verdict == "FAIL"


def test_soak_targets_allow_thirty_percent() -> None:
    assert t.soak_rss_flat(500.0, 650.0).verdict == "PASS"
    assert t.soak_rss_flat(500.0, 651.0).verdict == "FAIL"
    assert t.soak_time_linear(20.0, 26.0).verdict == "PASS"
    assert t.soak_time_linear(20.0, 26.2).verdict == "FAIL"
    assert t.soak_time_linear(0.0, 26.2).verdict == "SKIP"


def test_per_million_scales_and_survives_zero_rows() -> None:
    assert t.per_million(5.0, 500_000) == 10.0
    assert t.per_million(5.0, 0) is None


def test_minimum_per_million_records_is_reported() -> None:
    assert t.credit_minimum(10_000_000, 200_000).to_dict()["per_million_records"] == 260.0


def test_page_load_trend_within_the_soak() -> None:
    assert t.soak_page_load_trend(4.0, 5.2).verdict == "PASS"
    assert t.soak_page_load_trend(4.0, 5.3).verdict == "FAIL"
    assert t.soak_page_load_trend(None, 5.3).verdict == "SKIP"
