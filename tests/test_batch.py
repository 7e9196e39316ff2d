"""perfkit batch: inputs, the SQS model, live runs against real handlers, the CLI."""

from __future__ import annotations

import json
import os
import textwrap
from pathlib import Path
from typing import Any

import pytest

from perfkit.batch import (
    BatchRequest,
    InputSpec,
    QueueSettings,
    RetryPolicy,
    SweepResult,
    run_batch,
)
from perfkit.batch.config import LatencyModel, RunResult
from perfkit.batch.handlers import check_batch_response
from perfkit.batch.inputs import read_messages
from perfkit.errors import InputError

DATA = Path(__file__).parent / "data" / "batch"


def record(
    i: int, *, group: str | None = None, sent: int | None = None, body: Any = None
) -> dict[str, Any]:
    attrs: dict[str, Any] = {"ApproximateReceiveCount": "1"}
    if sent is not None:
        attrs["SentTimestamp"] = str(sent)
    if group is not None:
        attrs["MessageGroupId"] = group
        attrs["MessageDeduplicationId"] = f"d{i}"
    return {
        "messageId": f"m{i}",
        "receiptHandle": f"rh{i}",
        "body": json.dumps(body if body is not None else {"n": i}),
        "attributes": attrs,
        "messageAttributes": {},
        "md5OfBody": "",
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:q" + (".fifo" if group else ""),
        "awsRegion": "us-east-1",
    }


def write_jsonl(path: Path, recs: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in recs))
    return path


def module(tmp_path: Path, name: str, code: str) -> Path:
    p = tmp_path / f"{name}.py"
    p.write_text(textwrap.dedent(code))
    return p


def live(paths: list[Path], spec: str, *, batch: bool = False, **kw: Any) -> RunResult:
    settings = QueueSettings(
        batch_size=kw.pop("batch_size", 10),
        concurrency=kw.pop("concurrency", 1),
        visibility_timeout=kw.pop("visibility_timeout", 1.0),
        max_receive_count=kw.pop("max_receive_count", 3),
        fifo=kw.pop("fifo", None),
    )
    req = BatchRequest(
        inputs=InputSpec(tuple(str(p) for p in paths)),
        mode="live",
        handler=None if batch else spec,
        batch_handler=spec if batch else None,
        settings=settings,
        batch_sizes=(settings.batch_size,),
        concurrencies=(settings.concurrency,),
        time_scale=kw.pop("time_scale", 0.001),
        **kw,
    )
    return run_batch(req).runs[0]


# -- inputs ------------------------------------------------------------------------------


def test_every_input_shape_reads_the_same_messages(tmp_path: Path) -> None:
    recs = [record(i, sent=1_700_000_000_000 + i) for i in range(3)]
    (tmp_path / "event.json").write_text(json.dumps({"Records": recs}, indent=2))
    receive = {
        "Messages": [
            {
                "MessageId": r["messageId"],
                "ReceiptHandle": r["receiptHandle"],
                "MD5OfBody": "",
                "Body": r["body"],
                "Attributes": r["attributes"],
                "MessageAttributes": {"k": {"StringValue": "v", "DataType": "String"}},
            }
            for r in recs
        ]
    }
    (tmp_path / "receive.json").write_text(json.dumps(receive, indent=1))
    write_jsonl(tmp_path / "records.jsonl", recs)
    (tmp_path / "events.jsonl").write_text(json.dumps({"Records": recs}) + "\n")
    for name in ("event.json", "receive.json", "records.jsonl", "events.jsonl"):
        msgs = list(read_messages(InputSpec((str(tmp_path / name),))))
        assert [m.message_id for m in msgs] == ["m0", "m1", "m2"], name
        assert [m.body for m in msgs] == [r["body"] for r in recs]
        assert [m.sent_ms for m in msgs] == [1_700_000_000_000 + i for i in range(3)]
    rec = next(read_messages(InputSpec((str(tmp_path / "receive.json"),)))).lambda_record()
    assert rec["messageAttributes"]["k"]["stringValue"] == "v"
    assert rec["eventSource"] == "aws:sqs"


def test_plain_bodies_get_generated_ids(tmp_path: Path) -> None:
    p = tmp_path / "bodies.txt"
    p.write_text('{"order": 1}\nhello\n\nworld\n')
    msgs = list(read_messages(InputSpec((str(p),))))
    assert [m.body for m in msgs] == ['{"order": 1}', "hello", "world"]
    assert len({m.message_id for m in msgs}) == 3
    assert msgs[0].lambda_record()["body"] == '{"order": 1}'


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            '{"messageId": "a", "body": "x"}\n{"body": "y"}\n',
            "x.jsonl:2: record: missing messageId",
        ),
        (
            '{"messageId": "a", "body": "x"}\n{"messageId": "b"}\n',
            "x.jsonl:2: record: message 'b' has no body",
        ),
        (
            '{"messageId": "a", "body": "x"}\n{"messageId": "a", "body": "y"}\n',
            "x.jsonl:2: duplicate messageId 'a' (first at ",
        ),
        ('{"messageId": "a", "body": "x"}\nnot json\n', "x.jsonl:2: not valid JSON"),
    ],
)
def test_validation_names_file_and_record(tmp_path: Path, content: str, message: str) -> None:
    p = tmp_path / "x.jsonl"
    p.write_text(content)
    with pytest.raises(InputError) as err:
        list(read_messages(InputSpec((str(p),))))
    assert str(err.value).startswith(f"{p.parent}/{message}")


def test_body_over_256kb_and_duplicates_across_files(tmp_path: Path) -> None:
    big = tmp_path / "big.json"
    big.write_text(
        json.dumps({"Records": [record(0), {**record(1), "body": "é" * 140_000}]}, indent=1)
    )
    with pytest.raises(
        InputError, match=r"big.json: Records\[1\]: message 'm1' body is 280000 bytes"
    ):
        list(read_messages(InputSpec((str(big),))))
    a = write_jsonl(tmp_path / "a.jsonl", [record(0), record(1)])
    b = write_jsonl(tmp_path / "b.jsonl", [record(2), record(1)])
    with pytest.raises(
        InputError, match=r"b.jsonl:2: duplicate messageId 'm1' \(first at .*a.jsonl:2\)"
    ):
        list(read_messages(InputSpec((str(a), str(b)))))


# -- Lambda's response rules -------------------------------------------------------------


def test_batch_response_checked_like_lambda() -> None:
    ids = ["a", "b", "c"]
    assert check_batch_response(None, ids) == ([], None)
    assert check_batch_response({}, ids) == ([], None)
    assert check_batch_response({"batchItemFailures": []}, ids) == ([], None)
    assert check_batch_response({"batchItemFailures": None}, ids) == ([], None)
    assert check_batch_response({"batchItemFailures": [{"itemIdentifier": "b"}]}, ids) == (
        ["b"],
        None,
    )
    for bad, why in [
        ({"batchItemFailures": [{"itemIdentifier": ""}]}, "itemIdentifier is empty"),
        ({"batchItemFailures": [{"itemIdentifier": None}]}, "itemIdentifier is empty"),
        ({"batchItemFailures": [{"id": "a"}]}, "has no itemIdentifier key"),
        ({"batchItemFailures": [{"itemIdentifier": "zzz"}]}, "'zzz' is not in the batch"),
        ("oops", "response is a str"),
    ]:
        failed, bug = check_batch_response(bad, ids)
        assert failed == ids
        assert bug is not None and why in bug


# -- live runs against real handlers -----------------------------------------------------

FAIL_ON = """
FAIL = {"m3", "m5"}
def handle(record):
    if record["messageId"] in FAIL:
        raise RuntimeError("cannot process " + record["messageId"])
"""


def test_live_partial_failures_exact_and_dlq_unchanged(tmp_path: Path) -> None:
    h = module(tmp_path, "h_fail", FAIL_ON)
    dump = write_jsonl(tmp_path / "dump.jsonl", [record(i) for i in range(12)])
    dlq = tmp_path / "dlq.jsonl"
    r = live([dump], f"{h}:handle", max_receive_count=2, dlq_out=dlq)
    first = r.batch_log[0]
    assert first.message_ids == tuple(f"m{i}" for i in range(10))
    assert first.failures == ("m3", "m5")
    assert first.error == "RuntimeError: cannot process m3"
    # redelivered after the visibility timeout, fail again, then the DLQ
    assert [b.failures for b in r.batch_log] == [("m3", "m5"), ("m3", "m5")]
    c = r.conservation
    assert (c.messages_in, c.succeeded, c.dlq, c.in_flight, c.ok) == (12, 10, 2, 0, True)
    lines = dump.read_text().splitlines()
    assert dlq.read_text().splitlines() == [lines[3], lines[5]]
    assert r.retried == 2 and r.deliveries == 14


def test_dlq_out_to_a_device_writes_through_it_never_replaces_it(tmp_path: Path) -> None:
    """As root, renaming the temp file over /dev/null would replace the device itself."""
    import stat

    h = module(tmp_path, "h_fail_dev", FAIL_ON)
    dump = write_jsonl(tmp_path / "dump.jsonl", [record(i) for i in range(12)])
    r = live([dump], f"{h}:handle", max_receive_count=2, dlq_out=Path("/dev/null"))
    assert r.conservation.dlq == 2
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)
    assert not list(Path("/dev").glob(".null.*.tmp"))


def test_live_whole_batch_raise_and_malformed_response(tmp_path: Path) -> None:
    h = module(
        tmp_path,
        "h_batch",
        """
        def boom(event, context):
            raise ValueError("database down")

        def malformed(event, context):
            assert context.get_remaining_time_in_millis() > 0
            return {"batchItemFailures": [{"itemIdentifier": ""}]}

        async def partial(event, context):
            return {"batchItemFailures": [{"itemIdentifier": event["Records"][1]["messageId"]}]}
        """,
    )
    dump = write_jsonl(tmp_path / "dump.jsonl", [record(i) for i in range(4)])
    r = live([dump], f"{h}:boom", batch=True, max_receive_count=1)
    b = r.batch_log[0]
    assert b.failures == ("m0", "m1", "m2", "m3") and b.whole_batch_failed
    assert b.error == "ValueError: database down" and b.handler_bug is None
    assert r.conservation.dlq == 4

    r = live([dump], f"{h}:malformed", batch=True, max_receive_count=1)
    b = r.batch_log[0]
    assert b.failures == ("m0", "m1", "m2", "m3") and b.whole_batch_failed
    assert b.handler_bug == "batchItemFailures[0].itemIdentifier is empty"
    assert r.handler_bugs == 1

    r = live([dump], f"{h}:partial", batch=True, max_receive_count=1)
    assert r.batch_log[0].failures == ("m1",) and not r.batch_log[0].whole_batch_failed
    assert (r.conservation.succeeded, r.conservation.dlq) == (3, 1)


def test_live_slow_handler_past_visibility_timeout_is_delivered_twice(tmp_path: Path) -> None:
    h = module(
        tmp_path,
        "h_slow",
        """
        import time
        def handle(record):
            time.sleep(0.125)
        """,
    )
    dump = write_jsonl(tmp_path / "dump.jsonl", [record(0)])
    # visibility 1 s x time scale 0.05 = 50 ms, the handler takes 125 ms
    r = live([dump], f"{h}:handle", batch_size=1, concurrency=3, time_scale=0.05)
    assert r.duplicate_deliveries >= 1
    assert r.duplicate_processed == r.duplicate_deliveries
    assert (r.conservation.succeeded, r.conservation.ok) == (1, True)


def test_live_async_handler_with_concurrency(tmp_path: Path) -> None:
    h = module(
        tmp_path,
        "h_async",
        """
        import asyncio
        SEEN = []
        async def handle(record):
            await asyncio.sleep(0.001)
            SEEN.append(record["messageId"])
            if record["messageId"] == "m7":
                raise KeyError("m7")
        """,
    )
    dump = write_jsonl(tmp_path / "dump.jsonl", [record(i) for i in range(30)])
    r = live(
        [dump],
        f"{h}:handle",
        concurrency=4,
        batch_size=5,
        max_receive_count=1,
        visibility_timeout=500,
    )
    assert r.handler_kind == "async record"
    assert (r.conservation.succeeded, r.conservation.dlq) == (29, 1)
    assert [b.failures for b in r.batch_log] == [("m7",)]


def test_fifo_order_and_rest_of_group_held_back(tmp_path: Path) -> None:
    calls_file = tmp_path / "calls.txt"
    h = module(
        tmp_path,
        "h_fifo",
        f"""
        FAILED_ONCE = set()
        def handle(record):
            mid = record["messageId"]
            with open({str(calls_file)!r}, "a") as fh:  # the handler runs in a worker process
                fh.write(mid + "\\n")
            if mid == "m1" and mid not in FAILED_ONCE:
                FAILED_ONCE.add(mid)
                raise RuntimeError("transient")
        """,
    )
    recs = [record(i, group="a" if i < 5 else "b") for i in range(10)]
    dump = write_jsonl(tmp_path / "dump.jsonl", recs)
    r = live([dump], f"{h}:handle", batch_size=10)
    assert r.fifo
    # m1 failed: m2..m4 of group a were held back (not run), group b went on
    assert r.batch_log[0].failures == ("m1", "m2", "m3", "m4")
    calls = calls_file.read_text().split()
    assert calls == ["m0", "m1", "m5", "m6", "m7", "m8", "m9", "m1", "m2", "m3", "m4"]
    assert (r.conservation.succeeded, r.retried) == (10, 4)


def test_fifo_batch_size_limit(cli: Any, tmp_path: Path) -> None:
    dump = write_jsonl(tmp_path / "dump.jsonl", [record(i, group="g") for i in range(3)])
    res = cli("batch", str(dump), "--batch-size", "20")
    assert res.exit_code == 2
    assert res.stderr == "perfkit: error: --batch-size: 20 is over 10, the limit for FIFO queues\n"


def test_live_retries_with_backoff(tmp_path: Path) -> None:
    h = module(
        tmp_path,
        "h_retry",
        """
        ATTEMPTS = {}
        def handle(record):
            mid = record["messageId"]
            ATTEMPTS[mid] = ATTEMPTS.get(mid, 0) + 1
            if ATTEMPTS[mid] <= 2:
                raise TimeoutError("flaky")
        """,
    )
    dump = write_jsonl(tmp_path / "dump.jsonl", [record(i) for i in range(5)])
    r = live(
        [dump],
        f"{h}:handle",
        retry=RetryPolicy(retries=3, backoff_base=0.01, backoff_cap=0.02),
        seed=7,
    )
    assert (r.record_retries, r.failed_attempts, r.retried) == (10, 10, 0)
    assert (r.conservation.succeeded, r.batches_with_failures) == (5, 0)


# -- simulate ----------------------------------------------------------------------------


def sim(paths: list[Path], **kw: Any) -> RunResult:
    req = BatchRequest(
        inputs=InputSpec(tuple(str(p) for p in paths)),
        mode="simulate",
        settings=QueueSettings(visibility_timeout=kw.pop("visibility_timeout", 30.0)),
        batch_sizes=(kw.pop("batch_size", 10),),
        concurrencies=(kw.pop("concurrency", 2),),
        **kw,
    )
    return run_batch(req).runs[0]


def test_simulate_is_repeatable_with_a_seed(tmp_path: Path) -> None:
    dump = write_jsonl(tmp_path / "dump.jsonl", [record(i) for i in range(500)])
    model = LatencyModel(failure_rate=0.2, poison_rate=0.02)
    retry = RetryPolicy(retries=1)
    a = sim([dump], model=model, retry=retry, seed=42)
    b = sim([dump], model=model, retry=retry, seed=42)
    c = sim([dump], model=model, retry=retry, seed=43)

    def key(r: Any) -> tuple[Any, ...]:
        return (r.conservation, r.record_retries, r.retried, r.elapsed, r.batch_log)

    assert key(a) == key(b)
    assert key(a) != key(c)
    assert a.conservation.ok and a.conservation.dlq > 0 and a.record_retries > 0


def test_simulate_fitted_model_from_live_json(cli: Any, tmp_path: Path) -> None:
    h = module(tmp_path, "h_fit", FAIL_ON)
    dump = write_jsonl(tmp_path / "dump.jsonl", [record(i) for i in range(40)])
    out = tmp_path / "live.json"
    res = cli(
        "batch",
        str(dump),
        "--mode",
        "live",
        "--handler",
        f"{h}:handle",
        "--time-scale",
        "0.001",
        "-f",
        "json",
        "-o",
        str(out),
    )
    assert res.exit_code == 0, res.stderr
    fitted = json.loads(out.read_text())["run"]["fitted_model"]
    assert len(fitted["sample_ms"]) == 40 + 2 * 2  # every attempt: 40 + m3/m5 twice more
    assert fitted["poison_rate"] == 0.05
    res = cli("batch", str(dump), "--model", str(out), "--seed", "1", "-f", "json")
    assert res.exit_code == 0, res.stderr
    run = json.loads(res.stdout)["run"]
    assert run["model"]["kind"] == "empirical" and run["conservation_ok"]


# -- CLI -----------------------------------------------------------------------------------


def test_cli_sweep_table_plot_and_best(cli: Any, tmp_path: Path) -> None:
    dump = write_jsonl(tmp_path / "dump.jsonl", [record(i) for i in range(2000)])
    plot = tmp_path / "sweep.png"
    res = cli(
        "batch", str(dump), "--batch-size", "1,10", "--concurrency", "1,4",
        "--latency-ms", "const:5", "--batch-overhead-ms", "20", "--plot", str(plot), "-f", "json",
    )  # fmt: skip
    assert res.exit_code == 0, res.stderr
    doc = json.loads(res.stdout)
    assert [(r["settings"]["batch_size"], r["settings"]["concurrency"]) for r in doc["runs"]] == [
        (1, 1), (1, 4), (10, 1), (10, 4)
    ]  # fmt: skip
    # constant 5 ms per record + 20 ms per batch: 10 x 4 wins, 4 x (10 / 70 ms) = 571.4 msg/s
    assert doc["best"] == {"batch_size": 10, "concurrency": 4}
    assert doc["runs"][3]["throughput_per_s"] == pytest.approx(571.4, abs=0.5)
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    res = cli("batch", str(dump), "--batch-size", "1,10", "--concurrency", "1,4", "--latency-ms", "const:5",
              "--batch-overhead-ms", "20", "-f", "markdown")  # fmt: skip
    assert "best: batch size 10, concurrency 4 (571.4 msg/s" in res.stdout


def test_cli_bad_input_one_line_exit_2(cli: Any, tmp_path: Path) -> None:
    p = tmp_path / "bad.jsonl"
    p.write_text('{"messageId": "a", "body": "x"}\n{"messageId": "", "body": "y"}\n')
    res = cli("batch", str(p))
    assert res.exit_code == 2
    assert res.stderr == f"perfkit: error: {p}:2: record: missing messageId\n"
    res = cli("batch", str(p), "--mode", "live")
    assert res.exit_code == 2
    assert "--mode live needs a handler" in res.stderr
    res = cli("batch", str(tmp_path / "nope.jsonl"))
    assert res.stderr == f"perfkit: error: {tmp_path / 'nope.jsonl'}: no such file\n"


def test_cli_sample_configs_run(cli: Any) -> None:
    root = Path(__file__).parent.parent / "sample_configs" / "batch"
    res = cli("batch", str(root / "orders.event.json"), "--mode", "live", "--handler",
              f"{root / 'handlers.py'}:process_order", "--time-scale", "0.001", "-f", "json")  # fmt: skip
    assert res.exit_code == 0, res.stderr
    run = json.loads(res.stdout)["run"]
    assert run["conservation_ok"] and run["dlq"] == 1


def test_duplicate_far_apart_found_by_the_bloom_filter(tmp_path: Path) -> None:
    recs = [{"messageId": f"id-{i}", "body": "x"} for i in range(20_000)]
    recs.append({"messageId": "id-3", "body": "again"})
    p = write_jsonl(tmp_path / "many.jsonl", recs)
    with pytest.raises(
        InputError,
        match=r"many.jsonl:20001: duplicate messageId 'id-3' \(first at .*many.jsonl:4\)",
    ):
        list(read_messages(InputSpec((str(p),))))
    assert sum(1 for _ in read_messages(InputSpec((str(p),), check_duplicates=False))) == 20_001


def test_cli_receive_message_dump_missing_body(cli: Any) -> None:
    p = DATA / "missing-body.receive.json"
    res = cli("batch", str(p))
    assert res.exit_code == 2
    assert res.stderr == (
        f"perfkit: error: {p}: Messages[1]: message "
        "'0a1b2c3d-0000-4000-8000-000000000002' has no Body\n"
    )


def test_cli_csv_and_max_time_in_flight(cli: Any, tmp_path: Path) -> None:
    dump = write_jsonl(tmp_path / "dump.jsonl", [record(i) for i in range(100)])
    res = cli("batch", str(dump), "--latency-ms", "const:100", "--batch-overhead-ms", "0",
              "--max-time", "1s", "--arrival", "backlog", "-f", "csv")  # fmt: skip
    assert res.exit_code == 0, res.stderr
    rows = dict(line.split(",", 1) for line in res.stdout.strip().splitlines()[1:])
    # one consumer, 10 records x 100 ms per batch: 10 messages done by t = 1 s
    assert (rows["messages in"], rows["succeeded"], rows["still in flight"]) == ("100", "10", "90")


def test_latency_digest_bulk_and_single_adds_agree_within_one_percent() -> None:
    import random

    from perfkit.querylog.stats import DurationDigest

    rng = random.Random(5)
    xs = [rng.lognormvariate(-3, 1.2) for _ in range(20_000)]
    bulk, single = DurationDigest(), DurationDigest()
    bulk.add_many(xs[:300])  # exact part first, then the switch to buckets mid-call
    bulk.add_many(xs[300:10_000])
    for x in xs[10_000:]:
        bulk.add(x)
    for x in xs:
        single.add(x)
    assert (bulk.count, bulk.min, bulk.max) == (single.count, single.min, single.max)
    assert bulk.total == pytest.approx(single.total)
    xs.sort()
    for q in (0.5, 0.95, 0.99):
        exact = xs[int(q * len(xs)) - 1]
        got = bulk.quantile(q)
        assert got is not None and abs(got - exact) / exact < 0.01
        assert got == pytest.approx(single.quantile(q), rel=1e-9)


def test_visibility_shorter_than_the_batching_window_is_reported() -> None:
    """Messages come back while the poller still fills the batch: the same message sits
    twice in one batch, a FIFO failure reported by id covers both copies, and the group's
    order can break. The report says so (found by Hypothesis in test_batch_props.py)."""
    from perfkit.batch.inputs import Message
    from perfkit.batch.report import to_document
    from perfkit.batch.simulate import simulate

    msgs = [Message(i, f"m{i}", "b", "g0", 1_700_000_000_000 + 37 * i, "b", None, "w")
            for i in range(7)]  # fmt: skip
    order: list[int] = []
    r = simulate(
        iter(msgs),
        QueueSettings(batch_size=4, batching_window=0.5, visibility_timeout=0.05),
        LatencyModel(kind="const", params=(0.01,), poison_rate=0.05),
        fifo=True,
        seed=0,
        on_success=lambda m, t: order.append(m.index),
    )
    assert r.duplicate_deliveries > 0 and r.conservation.ok
    assert order != sorted(order)  # what SQS itself would do here
    doc = to_document(SweepResult(runs=(r,), best=None, target_p95=None, plot=None, notes=()))
    assert any(
        "visibility timeout (0.05s) is shorter than the batching window" in w
        and "FIFO group's order is then no longer guaranteed" in w
        for w in doc.warnings
    )
