"""Each benchmark still runs, in a tiny configuration (figures are printed, never timed here)."""

from __future__ import annotations

import pytest

from bench import bench_cold_start, bench_fanout, bench_reads_per_send


def test_reads_per_send_counts_room_items_for_ours_and_every_connection_for_scan() -> None:
    rows = bench_reads_per_send.run([12, 36], room_size=4, sends=2)
    for total, ours, scan, ratio, rooms, posts in rows:
        assert ours == 4  # one Query reads the room's 4 members, whatever the total
        assert scan == total  # the scan reads every connection in the system
        assert ratio == total / 4
        assert rooms == total // 4
        assert posts == 3  # everyone but the sender


def test_reads_per_send_prints_its_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert bench_reads_per_send.main(["--totals", "8,16", "--room-size", "4", "--sends", "1"]) == 0
    assert "scan / ours" in capsys.readouterr().out


def test_fanout_runs_both_parts(capsys: pytest.CaptureFixture[str]) -> None:
    argv = [
        "--sizes",
        "3,5",
        "--workers",
        "2",
        "--latency-ms",
        "1",
        "--repeats",
        "1",
        "--botocore-n",
        "6",
        "--handshake-ms",
        "0",
    ]
    assert bench_fanout.main(argv) == 0
    out = capsys.readouterr().out
    assert "measured / bound" in out
    assert "connections opened" in out
    assert "ms per post" in out


def test_cold_start_probes_a_handler_and_the_baseline(capsys: pytest.CaptureFixture[str]) -> None:
    assert bench_cold_start.main(["--repeats", "1", "--only", "connect"]) == 0
    out = capsys.readouterr().out
    assert "connect" in out
    assert "baseline" in out


def test_fanout_split_runs_and_every_member_is_posted_once(capsys: pytest.CaptureFixture[str]) -> None:
    from bench import bench_fanout_split

    # measure() asserts that the inline range and the jobs posted each member once.
    argv = ["--sizes", "30,7", "--threshold", "8", "--workers", "2", "--latency-ms", "1"]
    assert bench_fanout_split.main(argv) == 0
    out = capsys.readouterr().out
    assert "one / split" in out and "30" in out


def test_search_reads_only_the_range_and_agrees_with_the_naive_search(capsys: pytest.CaptureFixture[str]) -> None:
    from bench import bench_search_reads

    rows = bench_search_reads.run([200, 1200], window=0.5)
    for size, matches, _per_call, calls, ours, naive, ratio in rows:
        assert matches == size // 2 // 10  # every 10th message of the searched half
        assert ours == size // 2 and naive == size and ratio == 2.0
        assert calls == -(-ours // 500)  # at most 500 read per call
    assert bench_search_reads.main(["--sizes", "100", "--window", "0.5"]) == 0
    assert "naive / ours" in capsys.readouterr().out


def test_events_benchmark_runs_both_batch_sizes(capsys: pytest.CaptureFixture[str]) -> None:
    from bench import bench_events

    assert bench_events.main(["--events", "12", "--max-events", "5", "--timeout", "60"]) == 0
    out = capsys.readouterr().out
    assert "batches of 5: all at once" in out and "batches of 1" in out and "ratio (events/s" in out
