"""Simulator invariants under Hypothesis: conservation, FIFO order, receive counts."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from perfkit.batch.config import LatencyModel, QueueSettings, RetryPolicy
from perfkit.batch.inputs import Message
from perfkit.batch.simulate import simulate


@st.composite
def scenarios(draw: st.DrawFn) -> dict[str, object]:
    fifo = draw(st.booleans())
    n = draw(st.integers(0, 120))
    groups = draw(st.integers(1, 5))
    return {
        "fifo": fifo,
        "n": n,
        "groups": groups,
        "sent": draw(st.booleans()),
        "batch_size": draw(st.integers(1, 10 if fifo else 25)),
        "concurrency": draw(st.integers(1, 6)),
        "window": draw(st.sampled_from([0.0, 0.05, 0.5])),
        "visibility": draw(st.sampled_from([0.05, 0.3, 30.0])),
        "max_rc": draw(st.integers(1, 4)),
        "max_time": draw(st.sampled_from([None, None, 0.5, 3.0])),
        "failure_rate": draw(st.sampled_from([0.0, 0.1, 0.5])),
        "poison_rate": draw(st.sampled_from([0.0, 0.05, 0.3])),
        "retries": draw(st.integers(0, 2)),
        "latency": draw(
            st.sampled_from([("const", (0.01,)), ("lognormal", (0.02, 0.2)), ("exp", (0.05,))])
        ),
        "seed": draw(st.integers(0, 2**16)),
    }


@settings(max_examples=150, deadline=None)
@given(scenarios())
def test_simulator_invariants(sc: dict) -> None:  # type: ignore[type-arg]
    msgs = [
        Message(i, f"m{i}", "b", f"g{i % sc['groups']}" if sc["fifo"] else None,
                1_700_000_000_000 + 37 * i if sc["sent"] else None, "b", None, "w")
        for i in range(sc["n"])
    ]  # fmt: skip
    successes: dict[str | None, list[int]] = {}
    dlq: list[Message] = []

    def on_success(m: Message, t: float) -> None:
        successes.setdefault(m.group, []).append(m.index)

    kind, params = sc["latency"]
    r = simulate(
        iter(msgs),
        QueueSettings(
            batch_size=sc["batch_size"],
            concurrency=sc["concurrency"],
            batching_window=sc["window"],
            visibility_timeout=sc["visibility"],
            max_receive_count=sc["max_rc"],
            max_time=sc["max_time"],
        ),
        LatencyModel(
            kind=kind, params=params, failure_rate=sc["failure_rate"], poison_rate=sc["poison_rate"]
        ),
        fifo=sc["fifo"],
        retry=RetryPolicy(retries=sc["retries"], backoff_base=0.01),
        seed=sc["seed"],
        on_success=on_success,
        on_dlq=dlq.append,
    )
    c = r.conservation
    # every message ends in exactly one of succeeded / DLQ / still in flight
    assert c.ok and c.messages_in == sc["n"]
    succeeded_ids = [i for ids in successes.values() for i in ids]
    assert len(succeeded_ids) == len(set(succeeded_ids)) == c.succeeded
    assert not set(succeeded_ids) & {m.index for m in dlq}
    assert len(dlq) == c.dlq
    if sc["max_time"] is None:
        assert c.in_flight == 0 and c.never_read == 0
    # a message is never received more than max_receive_count times
    assert all(m.receive_count <= sc["max_rc"] for m in msgs)
    assert all(m.receive_count == sc["max_rc"] for m in dlq)
    # FIFO: within a group, messages succeed in the order they were sent - unless a
    # message came back while a copy was still batched or processed (visibility timeout
    # shorter than the batching window + run time: SQS then hands it out again, the same
    # message can sit twice in one batch, and a failure reported by message id covers
    # both copies; the report warns about it, test_batch.py checks the warning)
    if sc["fifo"] and r.duplicate_deliveries == 0:
        for ids in successes.values():
            assert ids == sorted(ids)
