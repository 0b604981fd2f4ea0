"""Golden request files (bad line -> exit 2 with its number) and hey's CSV figures."""

from __future__ import annotations

from pathlib import Path

import pytest

from ci_plugins.adapters.hey import LoadResult, _rows
from ci_plugins.analysis.golden import read_golden_requests
from ci_plugins.errors import InputError
from tests.support.cli import write_text


def test_golden_requests_are_read_one_body_a_line_blank_lines_skipped(tmp_path: Path) -> None:
    path = write_text(tmp_path / "g.jsonl", '{"instances": [[1]]}\n\n{"instances": [[2]]}\n')
    assert read_golden_requests(path) == ['{"instances": [[1]]}', '{"instances": [[2]]}']


@pytest.mark.parametrize(
    ("text", "words"),
    [
        pytest.param(
            '{"instances": [[1]]}\n{"instances": \n', "g.jsonl line 2 is not JSON", id="bad-json"
        ),
        pytest.param(
            '{"a": 1}\n{"b": 2}\n"text"\n', "g.jsonl line 3 must be a JSON object", id="not-object"
        ),
        pytest.param("\n\n", "holds no request", id="empty"),
    ],
)
def test_a_bad_golden_file_is_exit_2_naming_the_line(tmp_path: Path, text: str, words: str) -> None:
    path = write_text(tmp_path / "g.jsonl", text)
    with pytest.raises(InputError) as caught:
        read_golden_requests(path)
    assert caught.value.exit_code == 2
    assert words in str(caught.value)


def test_a_missing_golden_file_is_exit_2(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="does not exist"):
        read_golden_requests(tmp_path / "nope.jsonl")


def test_hey_csv_rows_are_read_by_column_name() -> None:
    text = (
        "response-time,DNS+dialup,DNS,Request-write,Response-delay,Response-read,status-code,offset\n"
        "0.0295,0.0117,0.0000,0.0003,0.0169,0.0003,200,0.5117\n"
        "0.0040,0.0015,0.0000,0.0001,0.0019,0.0004,400,2.9097\n"
    )
    assert _rows(text) == [(0.0295, 200, 0.5117), (0.004, 400, 2.9097)]


def test_load_figures_rate_errors_and_nearest_rank_quantiles() -> None:
    result = LoadResult(
        requested_rate=10, duration=2, answered=20, errors=2, latencies_ms=tuple(range(1, 21))
    )
    assert result.achieved_rate == 10
    assert result.error_ratio == 0.1
    assert result.latency_ms(0.5) == 10
    assert result.latency_ms(0.99) == 20


def test_no_answers_give_no_error_ratio_and_no_latency_never_zero() -> None:
    result = LoadResult(requested_rate=10, duration=2, answered=0, errors=0, latencies_ms=())
    assert result.error_ratio is None
    assert result.latency_ms(0.99) is None
