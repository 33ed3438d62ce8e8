import pytest

from chute_core.errors import SettingsError
from chute_core.settings import PipelineSettings, load
from chute_worker.settings import WorkerSettings


def test_invalid_integer_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHUTE_WORKER_CONCURRENCY", "many")
    with pytest.raises(SettingsError, match=r"^CHUTE_WORKER_CONCURRENCY: "):
        load(WorkerSettings)


def test_out_of_range_value_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHUTE_MAX_RECEIVE_COUNT", "0")
    with pytest.raises(SettingsError, match=r"^CHUTE_MAX_RECEIVE_COUNT: .*greater than or equal"):
        load(PipelineSettings)


def test_overlapping_prefixes_are_rejected(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHUTE_RESULTS_PREFIX", "incoming/results/")
    with pytest.raises(SettingsError, match="CHUTE_RESULTS_PREFIX must not overlap"):
        load(PipelineSettings)


def test_dlq_name_defaults_to_queue_name_plus_dlq(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHUTE_QUEUE", "jobs")
    assert load(PipelineSettings).dlq_name == "jobs-dlq"
    monkeypatch.setenv("CHUTE_DLQ", "dead")
    assert load(PipelineSettings).dlq_name == "dead"


@pytest.mark.parametrize("origin", ["*", "https://app.example.com/", "app.example.com"])
def test_a_cors_origin_that_is_not_an_origin_is_refused(
    monkeypatch: pytest.MonkeyPatch, origin: str
) -> None:
    monkeypatch.setenv("CHUTE_CORS_ORIGINS", f"https://ok.example.com,{origin}")
    with pytest.raises(SettingsError, match=r"^CHUTE_CORS_ORIGINS: .*is not an origin"):
        load(PipelineSettings)


def test_cors_origins_are_read_as_a_comma_list(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHUTE_CORS_ORIGINS", "https://a.example.com, http://localhost:8000")
    assert load(PipelineSettings).cors_origins == ["https://a.example.com", "http://localhost:8000"]
