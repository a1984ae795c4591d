"""GET /history/{twin}/{name}/forecast: points with value/lower/upper continuing the series
at its step, the registered model version (also as provenance properties), fits reused
while a page polls, and a clear 4xx naming what was wrong for every bad request."""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from support import api_error, build_factory
from twinsight.analytics.forecast.service import SeriesForecasts, nice_step
from twinsight.api import create_app
from twinsight.core.clock import ManualClock
from twinsight.core.ports import HistoryPoint
from twinsight.core.provenance import produced_by
from twinsight.hub import Hub

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
TWIN = "line-1-motor"
URL = f"/history/{TWIN}/windingTemperature/forecast"


def temperatures(first: int, count: int) -> list[HistoryPoint]:
    """Winding temperature every 5 s: a slow two-minute swing around 60 °C."""
    return [
        HistoryPoint(
            TWIN,
            "windingTemperature",
            "telemetry",
            T0 + timedelta(seconds=5 * i),
            60 + 3 * math.sin(2 * math.pi * i / 24) + 0.1 * math.cos(7 * i),
        )
        for i in range(first, first + count)
    ]


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0 + timedelta(hours=1))


@pytest.fixture
def hub(clock: ManualClock) -> Iterator[Hub]:
    with Hub(clock=clock) as hub:
        build_factory(hub)
        hub.history.append(temperatures(0, 240))
        yield hub


@pytest.fixture
def client(hub: Hub) -> Iterator[TestClient]:
    with TestClient(create_app(hub)) as client:
        yield client


def test_a_forecast_continues_the_series_with_an_interval_and_names_its_model(
    client: TestClient, hub: Hub
) -> None:
    response = client.get(URL, params={"horizon": "6", "level": "0.9"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["series"] == f"{TWIN}/windingTemperature"
    assert (body["model"], body["version"], body["step"], body["level"]) == (
        "harmonic-ar",
        1,
        5.0,
        0.9,
    )
    assert body["properties"] == produced_by("harmonic-ar", 1)
    assert body["history"] == {"points": 240, "steps": 240}
    points = body["value"]
    assert [p["time"] for p in points] == [
        (T0 + timedelta(seconds=5 * (240 + k))).isoformat().replace("+00:00", "Z") for k in range(6)
    ]
    truth = [p.value for p in temperatures(240, 6)]
    for p, actual in zip(points, truth, strict=True):
        assert p["lower"] <= p["value"] <= p["upper"]
        assert abs(p["value"] - actual) < 1.0  # the swing is forecast, not just the level
    # the forecaster is registered once, as a forecaster, with its settings
    [version] = hub.registry.versions("harmonic-ar")
    assert (version.version, version.kind) == (1, "forecaster")
    assert version.training["method"] == "harmonic-ar"


def test_a_polling_page_reuses_the_fit_until_new_data_and_time_call_for_another(
    client: TestClient, hub: Hub, clock: ManualClock
) -> None:
    first = client.get(URL).json()
    again = client.get(URL, params={"horizon": "30", "level": "0.95"}).json()
    assert again["fittedAt"] == first["fittedAt"]  # another horizon and level, same fit
    assert len(again["value"]) == 30
    hub.history.append(temperatures(240, 2))
    clock.advance(5)
    assert client.get(URL).json()["fittedAt"] == first["fittedAt"]  # too soon to refit
    clock.advance(30)
    later = client.get(URL).json()
    assert later["fittedAt"] != first["fittedAt"]
    assert later["value"][0]["time"] == (T0 + timedelta(seconds=5 * 242)).isoformat().replace(
        "+00:00", "Z"
    )
    # a second app on the same hub finds the registered version instead of adding one
    with TestClient(create_app(hub)) as other:
        assert other.get(URL).json()["version"] == 1
    assert [v.version for v in hub.registry.versions("harmonic-ar")] == [1]


def test_a_step_may_be_chosen(client: TestClient) -> None:
    body = client.get(URL, params={"step": "30s", "horizon": "3"}).json()
    assert body["step"] == 30.0 and body["history"]["steps"] == 40
    times = [datetime.fromisoformat(p["time"]) for p in body["value"]]
    assert [(b - a).total_seconds() for a, b in itertools.pairwise(times)] == [30, 30]


@pytest.mark.parametrize(
    ("params", "needle"),
    [
        ({"horizon": "0"}, "horizon must be 1..1000 steps, not 0"),
        ({"horizon": "-2"}, "not -2"),
        ({"horizon": "100000"}, "horizon must be 1..1000 steps, not 100000"),
        ({"horizon": "ten"}, "horizon must be a whole number, not 'ten'"),
        ({"level": "1.5"}, "level must lie strictly between 0 and 1 (e.g. 0.8), not 1.5"),
        ({"level": "high"}, "level must be a number, not 'high'"),
        ({"step": "0.5"}, "step must be at least 1 s, not 0.5 s"),
        ({"step": "fortnightly"}, "fortnightly"),
    ],
)
def test_bad_parameters_are_refused_naming_them(
    client: TestClient, params: dict[str, str], needle: str
) -> None:
    message = api_error(client.get(URL, params=params), 400, "InvalidArgument")
    assert needle in message


def test_unknown_twins_and_series_are_404s(client: TestClient) -> None:
    message = api_error(
        client.get("/history/ghost/windingTemperature/forecast"), 404, "DigitalTwinNotFound"
    )
    assert "ghost" in message
    message = api_error(client.get(f"/history/{TWIN}/noSuchThing/forecast"), 404, "SeriesNotFound")
    assert f"{TWIN}/noSuchThing" in message


def test_a_series_of_text_is_refused_as_not_numeric(client: TestClient, hub: Hub) -> None:
    hub.history.append(
        [
            HistoryPoint(TWIN, "state", "property", T0 + timedelta(seconds=s), "running")
            for s in range(0, 100, 5)
        ]
    )
    message = api_error(client.get(f"/history/{TWIN}/state/forecast"), 400, "SeriesNotNumeric")
    assert f"series '{TWIN}/state' is not numeric: it holds str values such as 'running'" in (
        message
    )


def test_too_little_history_is_a_422_that_says_how_much_is_needed(
    client: TestClient, hub: Hub
) -> None:
    hub.history.append(
        [
            HistoryPoint(TWIN, "speed", "telemetry", T0 + timedelta(seconds=5 * i), 1450.0 + i)
            for i in range(5)
        ]
    )
    message = api_error(client.get(f"/history/{TWIN}/speed/forecast"), 422, "ForecastUnavailable")
    assert message == (
        f"cannot forecast {TWIN}/speed at a 5 s step: harmonic-ar needs at least 16 values "
        "at a 5 s step, the series has 5"
    )


def test_a_changed_method_registers_the_next_version(
    hub: Hub, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = SeriesForecasts(hub.history, hub.clock, hub.registry)
    assert first.forecast(TWIN, "windingTemperature", horizon=2).version == 1
    changed = {**SeriesForecasts.settings(), "arOrder": 5}
    monkeypatch.setattr(SeriesForecasts, "settings", staticmethod(lambda: changed))
    second = SeriesForecasts(hub.history, hub.clock, hub.registry)
    assert second.forecast(TWIN, "windingTemperature", horizon=2).version == 2
    assert hub.registry.get("harmonic-ar", 2).training["arOrder"] == 5


@pytest.mark.parametrize(
    ("spacing", "step"),
    [
        (0.2, 1.0),
        (4.9, 5.0),
        (5.0, 5.0),
        (59.0, 59.0),
        (61.0, 60.0),
        (290.0, 300.0),
        (3500.0, 3480.0),
        (5500.0, 7200.0),
        (math.nan, 1.0),
    ],
)
def test_the_default_step_is_the_spacing_rounded_to_the_clock(spacing: float, step: float) -> None:
    assert nice_step(spacing) == step
