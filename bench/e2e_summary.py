"""The figures, ratios and targets of an end-to-end run, from its legs (``bench.e2e``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from bench import e2e_targets as targets
from bench.e2e_config import E2EConfig
from bench.harness import ratio

if TYPE_CHECKING:
    from bench.e2e import Leg


def _variant_row(leg: Leg, records: int) -> dict[str, Any]:
    result = leg.result
    rows = int(result["rows"])
    wall = float(result["wall_seconds"])
    work = float(result.get("client_work_seconds", wall))
    polls = leg.sim.get("polls_per_job") or []
    return {
        "variant": leg.name,
        "warehouse": result.get("warehouse"),
        "records": records,
        "rows": rows,
        "wall_seconds": wall,
        "zoho_seconds": result.get("zoho_seconds", 0.0),
        "poll_latency_seconds": result.get("poll_latency_seconds"),
        "server_job_seconds_total": (
            round(sum(leg.sim["server_job_seconds"].values()), 3)
            if leg.sim.get("server_job_seconds")
            else None
        ),
        "client_work_seconds": work,
        "rows_per_second_wall": round(rows / wall, 1) if wall else None,
        "rows_per_second_work": round(rows / work, 1) if work else None,
        "seconds_per_million_work": targets.per_million(work, rows),
        "seconds_per_million_wall": targets.per_million(wall, rows),
        "peak_rss_mb": leg.peak_rss_mb,
        "credits_used": leg.sim.get("credits_used"),
        "credits_per_million": targets.per_million(leg.sim.get("credits_used", 0), rows),
        "http_calls": leg.sim.get("http_calls"),
        "jobs_created": leg.sim.get("jobs_created"),
        "polls_per_job_mean": round(sum(polls) / len(polls), 2) if polls else None,
        "polls_per_job_max": max(polls) if polls else None,
        "stage_seconds": result.get("stage_seconds", {}),
        **load_trend(result.get("pages", [])),
    }


def load_trend(pages: list[dict[str, Any]]) -> dict[str, float]:
    """Mean load seconds of the first and last tenth of the pages (a growing merge shows)."""
    loads = [float(p["load_seconds"]) for p in pages if "load_seconds" in p]
    if len(loads) < 2:
        return {}
    tenth = max(1, len(loads) // 10)
    return {
        "page_load_seconds_first_tenth": round(sum(loads[:tenth]) / tenth, 3),
        "page_load_seconds_last_tenth": round(sum(loads[-tenth:]) / tenth, 3),
    }


def summarise(config: E2EConfig, legs: Mapping[str, Leg], pg_reason: str) -> dict[str, Any]:
    base = targets.credit_minimum(config.records, config.per_page)
    soak_size = config.soak_records or config.records
    variants = {
        name: _variant_row(leg, soak_size if name.endswith("_soak") else config.records)
        for name, leg in legs.items()
    }
    ours = variants["ours_duckdb"]
    floor = variants["floor"]
    naive_pg = variants.get("naive_postgres")
    ours_pg = variants.get("ours_postgres")
    naive_duck = variants.get("naive_duckdb")
    ratios = {
        "ours_over_floor_duckdb_work": ratio(ours["client_work_seconds"], floor["wall_seconds"]),
        "ours_over_floor_duckdb_wall_incl_zoho": ratio(
            ours["wall_seconds"], floor["wall_seconds"] + ours["zoho_seconds"]
        ),
        # rows/s, not seconds: the naive DuckDB leg may load only some pages
        "naive_over_ours_duckdb": (
            ratio(ours["rows_per_second_work"], naive_duck["rows_per_second_wall"])
            if naive_duck
            else None
        ),
        "naive_over_ours_postgres": (
            ratio(naive_pg["wall_seconds"], ours_pg["client_work_seconds"])
            if naive_pg and ours_pg
            else None
        ),
    }
    prefect = variants.get("ours_prefect_duckdb")
    if prefect:
        # Prefect's own cost: the same export through the real flow minus the direct run
        # (job times are random, so compare client work, not wall).
        ratios["prefect_overhead_seconds"] = round(
            prefect["client_work_seconds"] - ours["client_work_seconds"], 3
        )
        ratios["prefect_over_direct_work"] = ratio(
            prefect["client_work_seconds"], ours["client_work_seconds"]
        )
    checks = [
        targets.ours_vs_floor(ours["client_work_seconds"], floor["wall_seconds"]),
        targets.naive_vs_ours_pg(
            naive_pg["wall_seconds"] if naive_pg else None,
            ours_pg["client_work_seconds"] if ours_pg else None,
        ),
        targets.peak_rss(ours["peak_rss_mb"], config.records),
        targets.credits(ours["credits_used"], base, "duckdb"),
    ]
    if ours_pg:
        checks.append(targets.credits(ours_pg["credits_used"], base, "postgres"))
    soak = variants.get("ours_duckdb_soak")
    soak_minimum = None
    if soak and config.soak_records:
        soak_minimum = targets.credit_minimum(config.soak_records, config.per_page)
        checks += [
            targets.soak_rss_flat(ours["peak_rss_mb"], soak["peak_rss_mb"]),
            targets.soak_time_linear(
                ours["seconds_per_million_work"], soak["seconds_per_million_work"]
            ),
            targets.soak_page_load_trend(
                soak.get("page_load_seconds_first_tenth"), soak.get("page_load_seconds_last_tenth")
            ),
            targets.credits(soak["credits_used"], soak_minimum, "soak"),
        ]
    return {
        "config": {
            **{k: v for k, v in asdict(config).items() if k not in {"workdir", "pg_url"}},
            "scaled_job_seconds": config.scaled_job_seconds,
            "postgres": pg_reason,
        },
        "credit_minimum": base.to_dict(),
        "credit_minimum_soak": soak_minimum.to_dict() if soak_minimum else None,
        "variants": variants,
        "ratios": ratios,
        "targets": [t.to_dict() for t in checks],
        "legs": {name: leg.to_dict() for name, leg in legs.items()},
    }
