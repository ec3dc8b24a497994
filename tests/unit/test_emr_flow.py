"""Job flows (seed 003, D4.2, D4.3): the pure state machine, and the EMR runner driven by a
scripted EMR (botocore's Stubber, or a small fake with the boto3 methods) through success, a
failed step, a terminated cluster, throttling and a lost connection. No Spark, no network:
the repository is in memory and the "cluster" writes its outputs there."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

import pytest

from ivory.dictionaries import import_dictionary
from ivory.emr.client import EmrClient, EmrConnectionError, EmrError
from ivory.emr.flow import FlowOutcome, FlowState, FlowStatus, JobFlow, decide_flow, run_callbacks
from ivory.emr.launch import EmrRunner
from ivory.emr.profile import combine_profile
from ivory.emr.staging import build_staged_plan
from ivory.errors import JobError
from ivory.ingest import ingest
from ivory.repository import Repository
from ivory.storage import open_storage

DICTIONARY = "fish:weight|encoding=double\n"


def cluster(state: str, code: str = "", message: str = "") -> dict[str, Any]:
    status: dict[str, Any] = {"State": state}
    if code or message:
        status["StateChangeReason"] = {"Code": code, "Message": message}
    return {"Id": "j-1", "Status": status}


def steps(*states: str, failure: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """ListSteps entries (newest first, as EMR answers) of steps in submission order."""
    out = []
    for n, state in enumerate(states):
        status: dict[str, Any] = {"State": state}
        if state == "FAILED" and failure:
            status["FailureDetails"] = failure
        out.append({"Id": f"s-{n}", "Name": f"step {n}", "Status": status})
    return list(reversed(out))


# -- the state machine (pure) ----------------------------------------------------------------


def test_decide_flow_follows_cluster_and_steps_d4_3() -> None:
    assert decide_flow(cluster("STARTING"), [], 3).state == FlowState.STARTING
    assert decide_flow(cluster("BOOTSTRAPPING"), steps("PENDING", "PENDING", "PENDING"),
                       3).state == FlowState.STARTING
    running = decide_flow(cluster("RUNNING"), steps("COMPLETED", "RUNNING", "PENDING"), 3)
    assert running.state == FlowState.RUNNING and not running.done
    assert running.progress() == "RUNNING, step 2/3 'step 1' RUNNING"
    done = decide_flow(cluster("TERMINATING"), steps("COMPLETED", "COMPLETED", "COMPLETED"), 3)
    assert done.state == FlowState.SUCCEEDED and done.done
    # Not every step listed yet: not a success.
    assert decide_flow(cluster("RUNNING"), steps("COMPLETED"), 3).state == FlowState.RUNNING


def test_decide_flow_names_the_failed_step_not_the_cancelled_ones_d4_2() -> None:
    status = decide_flow(
        cluster("TERMINATED_WITH_ERRORS", "STEP_FAILURE", "Shut down as step failed"),
        steps("COMPLETED", "FAILED", "CANCELLED",
              failure={"Reason": "Exception in thread main", "Message": "exit code 1",
                       "LogFile": "s3://logs/j-1/steps/s-1/stderr.gz"}), 3)
    assert status.state == FlowState.FAILED
    assert status.failed_step == "step 1"
    assert status.reason == "step 'step 1' FAILED: Exception in thread main exit code 1"
    assert status.log_file == "s3://logs/j-1/steps/s-1/stderr.gz"


def test_decide_flow_fails_when_the_cluster_ends_early_d4_3() -> None:
    status = decide_flow(cluster("TERMINATED", "USER_REQUEST", "Terminated by user request"),
                         steps("COMPLETED", "RUNNING", "PENDING"), 3)
    assert status.state == FlowState.FAILED and status.failed_step is None
    assert "TERMINATED before its steps completed: Terminated by user request" in status.reason
    bootstrap = decide_flow(cluster("TERMINATED_WITH_ERRORS", "BOOTSTRAP_FAILURE"), [], 3)
    assert bootstrap.state == FlowState.FAILED and "BOOTSTRAP_FAILURE" in bootstrap.reason


def test_failure_callbacks_all_run_even_when_one_raises_seed_003() -> None:
    calls: list[str] = []

    def bad(outcome: FlowOutcome) -> None:
        calls.append("bad")
        raise RuntimeError("callback bug")

    flow = JobFlow("f", "ingest", (), {}, on_success=(lambda o: calls.append("ok"),),
                   on_failure=(bad, lambda o: calls.append("second")))
    run_callbacks(flow, FlowOutcome("j-1", FlowStatus(FlowState.FAILED, "TERMINATED")))
    assert calls == ["bad", "second"]
    run_callbacks(flow, FlowOutcome("j-1", FlowStatus(FlowState.SUCCEEDED, "TERMINATED")))
    assert calls[-1] == "ok"


def test_staged_plan_rewrites_inputs_and_outputs_to_the_cluster_d4_2() -> None:
    plan = {"job": "snapshot", "compute": True, "output": "s3a://b/repo/snapshots/00000001",
            "inputs": [{"factset": "00000000", "priority": 1,
                        "files": ["s3a://b/repo/factsets/00000000/fish/2014/01/01/a.parquet",
                                  "s3a://b/repo/factsets/00000000/fish/2014/01/02/b.parquet"]}],
            "previous": None, "extracts": [{"path": "s3a://o/dense", "form": "dense"}]}
    from ivory.emr.requests import emr_uri

    staged = build_staged_plan(plan, "hdfs", "hdfs:///ivory/staging/r1",
                               "s3a://b/repo/_ivory/emr/runs/r1", emr_uri)
    assert staged.plan["inputs"][0]["files"] == [
        "hdfs:///ivory/staging/r1/in/b/repo/factsets/00000000/fish/2014/01/01/a.parquet",
        "hdfs:///ivory/staging/r1/in/b/repo/factsets/00000000/fish/2014/01/02/b.parquet"]
    assert staged.plan["output"] == "hdfs:///ivory/staging/r1/out/0"
    assert staged.plan["extracts"][0]["path"] == "hdfs:///ivory/staging/r1/out/1"
    (copy,) = staged.copies_in
    assert (copy.src, copy.dest) == ("s3://b/repo/factsets/00000000/fish/2014/01",
                                     "hdfs:///ivory/staging/r1/in/b/repo/factsets/00000000/"
                                     "fish/2014/01")
    assert copy.prefixes_uri == "s3://b/repo/_ivory/emr/runs/r1/inputs-1.txt"
    assert len(copy.prefixes) == 2
    assert [(c.src, c.dest) for c in staged.copies_out] == [
        ("hdfs:///ivory/staging/r1/out/0", "s3://b/repo/_ivory/emr/runs/r1/out/0"),
        ("hdfs:///ivory/staging/r1/out/1", "s3://b/repo/_ivory/emr/runs/r1/out/1")]
    assert [o.final for o in staged.outputs] == [plan["output"], "s3a://o/dense"]
    direct = build_staged_plan(plan, "s3-direct", "hdfs:///x", "s3a://b/repo/_r", emr_uri)
    assert direct.copies_in == direct.copies_out == ()
    assert direct.plan["output"] == "s3://b/repo/_r/out/0"
    assert direct.plan["inputs"][0]["files"][0].startswith("s3://b/repo/factsets/")
    with pytest.raises(Exception, match="not on S3"):
        build_staged_plan(dict(plan, output="/local/snap"), "hdfs", "hdfs:///x", "s3a://b/r")


# -- the runner against a scripted EMR -------------------------------------------------------


class FakeEmr:
    """The boto3 EMR methods a flow uses. ``polls`` scripts what each DescribeCluster/ListSteps
    poll answers; ``errors`` maps an operation to exceptions raised before answering it.
    ``cluster_work(plan, staged_plan)`` plays the cluster: it runs when a poll reports every
    step COMPLETED (writes the outputs and result.json)."""

    def __init__(self, polls: list[tuple[str, list[str]]],
                 cluster_work: Callable[[dict[str, Any]], None] | None = None,
                 errors: dict[str, list[Exception]] | None = None) -> None:
        self.polls = list(polls)
        self.cluster_work = cluster_work
        self.errors = errors or {}
        self.calls: list[str] = []
        self.request: dict[str, Any] = {}
        self.current: tuple[str, list[str]] = ("STARTING", [])

    def _maybe_fail(self, operation: str) -> None:
        self.calls.append(operation)
        queue = self.errors.get(operation)
        if queue:
            raise queue.pop(0)

    def run_job_flow(self, **request: Any) -> dict[str, Any]:
        self._maybe_fail("run_job_flow")
        self.request = request
        return {"JobFlowId": "j-FAKE"}

    def describe_cluster(self, ClusterId: str) -> dict[str, Any]:
        self._maybe_fail("describe_cluster")
        self.current = self.polls.pop(0) if self.polls else self.current
        state, step_states = self.current
        if step_states and all(s == "COMPLETED" for s in step_states) and self.cluster_work:
            work, self.cluster_work = self.cluster_work, None
            work(self.request)
        return {"Cluster": cluster(state, "X", f"cluster {state}")}

    def list_steps(self, ClusterId: str, Marker: str | None = None) -> dict[str, Any]:
        self._maybe_fail("list_steps")
        names = [s["Name"] for s in self.request["Steps"]]
        entries = [{"Id": f"s-{n}", "Name": name, "Status": {"State": state}}
                   for n, (name, state) in enumerate(zip(names, self.current[1], strict=False))]
        return {"Steps": list(reversed(entries))}

    def terminate_job_flows(self, JobFlowIds: list[str]) -> dict[str, Any]:
        self._maybe_fail("terminate_job_flows")
        return {}


def plan_of(request: dict[str, Any]) -> tuple[dict[str, Any], str]:
    submit = next(s["HadoopJarStep"]["Args"] for s in request["Steps"]
                  if s["HadoopJarStep"]["Args"][0] == "spark-submit")
    plan_uri = submit[submit.index("--plan") + 1]
    parent, _, name = plan_uri.rpartition("/")
    return json.loads(open_storage(parent).read(name)), submit[submit.index("--result") + 1]


PARQUET = b"not really parquet, but bytes with an MD5"


def ingest_cluster(corrupt: bool = False) -> Callable[[dict[str, Any]], None]:
    """What the ingest job on the cluster would leave: one factset file, one error file and
    result.json (s3-direct: the plan's outputs are the staging prefixes)."""

    def work(request: dict[str, Any]) -> None:
        plan, result_uri = plan_of(request)
        factset = open_storage(plan["output"]["factset"])
        factset.write("fish/2014/01/01/part-0.parquet", PARQUET + (b"!" if corrupt else b""))
        open_storage(plan["output"]["errors"]).write("part-0.parquet", b"errors")
        result = {"facts": 1, "errors": 1, "files": [{
            "path": "fish/2014/01/01/part-0.parquet", "size": len(PARQUET) + int(corrupt),
            "md5": hashlib.md5(PARQUET).hexdigest()}]}
        parent, _, name = result_uri.rpartition("/")
        open_storage(parent).write(name, json.dumps(result).encode())

    return work


@pytest.fixture
def repo(tmp_path) -> Repository:
    """A repository on local disk (``file://`` URIs stand in for S3 in these tests)."""
    repository, _ = Repository.create(str(tmp_path / "repo"), "UTC")
    import_dictionary(repository, [("d.psv", DICTIONARY)])
    (tmp_path / "input" / "fish").mkdir(parents=True)
    (tmp_path / "input" / "fish" / "a.psv").write_text("E1|weight|1|2014-01-01\n")
    return Repository.open(str(tmp_path / "repo"))


def make_runner(repo: Repository, fake: FakeEmr, sleeps: list[float], **options: Any
                ) -> EmrRunner:
    emr = EmrClient(fake, poll_interval_secs=0.0, max_attempts=4, sleep=sleeps.append)
    return EmrRunner(repo.data, combine_profile({"staging": "s3-direct"}), emr=emr,
                     schemes=("file", "s3", "s3a"), upload_bootstrap_script=False,
                     command="ivory ingest -i ...", repository=repo.location, **options)


def input_of(repo: Repository) -> str:
    return f"sparse:delimited:psv={repo.location.rsplit('/', 1)[0]}/input"


def published(repo: Repository) -> tuple[list[str], list[str]]:
    """The store, and the data files under factsets/ (the final place): the ``.allocated``
    markers and upstream ``.manifest.json`` views (§2.5) are not data."""
    again = Repository.open(repo.location)
    return again.store(), [e.key for e in again.data.list("factsets/", None)
                           if not e.key.endswith((".allocated", "/.manifest.json"))]


def staged_left(repo: Repository) -> list[str]:
    return [e.key for e in repo.data.list("_ivory/emr/runs/", None) if "/out/" in e.key]


def test_success_publishes_verified_outputs_and_commits_d4_2(repo: Repository) -> None:
    sleeps: list[float] = []
    fake = FakeEmr([("STARTING", ["PENDING"]), ("RUNNING", ["RUNNING"]),
                    ("TERMINATING", ["COMPLETED"])], ingest_cluster())
    outcomes: list[FlowOutcome] = []
    runner = make_runner(repo, fake, sleeps, on_success=[outcomes.append])
    result = ingest(repo, [input_of(repo)], runner)
    assert result.committed and result.facts == 1
    store, files = published(repo)
    assert store == [result.factset_id]
    assert files == [f"factsets/{result.factset_id}/fish/2014/01/01/part-0.parquet"]
    assert Repository.open(repo.location).data.list(f"errors/{result.factset_id}/", None)
    assert [o.cluster_id for o in outcomes] == ["j-FAKE"] and outcomes[0].succeeded
    assert staged_left(repo) == []
    assert sleeps == [0.0, 0.0]  # two polls before the final one, no retry
    tags = {t["Key"]: t["Value"] for t in fake.request["Tags"]}
    assert tags["ivory:repository"] == repo.location
    assert tags["ivory:command"] == "ivory ingest -i ..."


def test_failed_step_runs_failure_callback_and_commits_nothing_d4_2(repo: Repository) -> None:
    def partial_output(request: dict[str, Any]) -> None:
        plan, _ = plan_of(request)
        open_storage(plan["output"]["factset"]).write("fish/2014/01/01/part-0.parquet", b"x")

    fake = FakeEmr([("RUNNING", ["RUNNING"]), ("TERMINATED_WITH_ERRORS", ["FAILED"])])
    fake.cluster_work = None
    failures: list[FlowOutcome] = []
    runner = make_runner(repo, fake, [], on_failure=[failures.append],
                         on_success=[lambda o: pytest.fail("success callback ran")])
    original = fake.describe_cluster

    def describe(ClusterId: str) -> dict[str, Any]:
        if fake.request and not staged_left(repo):
            partial_output(fake.request)  # the job wrote part of its output, then failed
        return original(ClusterId)

    fake.describe_cluster = describe  # type: ignore[method-assign]
    with pytest.raises(EmrError, match=r"ingest job flow on EMR cluster j-FAKE failed: step "
                                       r"'ivory ingest: spark-submit' FAILED.*nothing was "
                                       r"committed") as caught:
        ingest(repo, [input_of(repo)], runner)
    assert (caught.value.cluster_id, caught.value.step) == ("j-FAKE", "ivory ingest: spark-submit")
    assert published(repo) == ([], [])
    assert staged_left(repo) == []  # the partial output was cleaned up
    (outcome,) = failures
    assert outcome.status.state == FlowState.FAILED


def test_terminated_cluster_fails_the_flow_d4_3(repo: Repository) -> None:
    fake = FakeEmr([("RUNNING", ["RUNNING"]), ("TERMINATED", ["RUNNING"])])
    failures: list[FlowOutcome] = []
    runner = make_runner(repo, fake, [], on_failure=[failures.append])
    with pytest.raises(EmrError, match="TERMINATED before its steps completed"):
        ingest(repo, [input_of(repo)], runner)
    assert published(repo) == ([], []) and len(failures) == 1


def test_corrupt_staged_output_is_not_published_d5_3(repo: Repository) -> None:
    fake = FakeEmr([("TERMINATING", ["COMPLETED"])], ingest_cluster(corrupt=True))
    failures: list[FlowOutcome] = []
    runner = make_runner(repo, fake, [], on_failure=[failures.append])
    with pytest.raises(JobError, match=r"out/0/fish/2014/01/01/part-0.parquet has MD5 "):
        ingest(repo, [input_of(repo)], runner)
    assert published(repo) == ([], [])
    assert staged_left(repo) == [] and len(failures) == 1


def test_throttling_is_retried_with_backoff_stubber() -> None:
    import boto3
    from botocore.stub import Stubber

    client = boto3.client("emr", region_name="us-east-1", aws_access_key_id="x",
                          aws_secret_access_key="y")
    stubber = Stubber(client)
    for _ in range(2):
        stubber.add_client_error("describe_cluster", service_error_code="ThrottlingException",
                                 service_message="Rate exceeded", http_status_code=400)
    stubber.add_response("describe_cluster", {"Cluster": {
        "Id": "j-1", "Name": "n", "Status": {"State": "RUNNING"}}}, {"ClusterId": "j-1"})
    stubber.add_response("list_steps", {"Steps": [
        {"Id": "s-1", "Name": "ivory ingest: spark-submit", "Status": {"State": "COMPLETED"}}]},
        {"ClusterId": "j-1"})
    sleeps: list[float] = []
    with stubber:
        status = EmrClient(client, poll_interval_secs=0.0, sleep=sleeps.append,
                           backoff_base_secs=0.5).wait("j-1", 1)
    stubber.assert_no_pending_responses()
    assert status.state == FlowState.SUCCEEDED
    assert sleeps == [0.5, 1.0]  # exponential backoff, then no poll wait: it was final


def test_refused_request_is_not_retried_stubber() -> None:
    import boto3
    from botocore.stub import Stubber

    client = boto3.client("emr", region_name="us-east-1", aws_access_key_id="x",
                          aws_secret_access_key="y")
    stubber = Stubber(client)
    stubber.add_client_error("run_job_flow", service_error_code="ValidationException",
                             service_message="Invalid InstanceType", http_status_code=400)
    sleeps: list[float] = []
    with stubber, pytest.raises(EmrError, match="EMR run_job_flow failed: ValidationException: "
                                                "Invalid InstanceType"):
        EmrClient(client, sleep=sleeps.append).start({"Name": "n", "Instances": {}})
    assert sleeps == []


def test_lost_connection_is_retried_then_gives_up_clearly_d4_3(repo: Repository) -> None:
    from botocore.exceptions import EndpointConnectionError

    lost = [EndpointConnectionError(endpoint_url="https://elasticmapreduce.us-east-1."
                                                 "amazonaws.com/") for _ in range(10)]
    fake = FakeEmr([("RUNNING", ["RUNNING"])], errors={"describe_cluster": lost})
    sleeps: list[float] = []
    failures: list[FlowOutcome] = []
    runner = make_runner(repo, fake, sleeps, on_failure=[failures.append])
    with pytest.raises(EmrConnectionError, match=r"lost the connection to EMR during "
                                                 r"describe_cluster for cluster j-FAKE after 4 "
                                                 r"attempts.*ivory emr terminate j-FAKE"):
        ingest(repo, [input_of(repo)], runner)
    assert sleeps == [1.0, 2.0, 4.0]
    assert fake.calls.count("describe_cluster") == 4
    assert published(repo) == ([], []) and staged_left(repo) == [] and len(failures) == 1


def test_lost_connection_recovers_within_the_retries(repo: Repository) -> None:
    from botocore.exceptions import EndpointConnectionError

    fake = FakeEmr([("RUNNING", ["RUNNING"]), ("TERMINATING", ["COMPLETED"])], ingest_cluster(),
                   errors={"list_steps": [EndpointConnectionError(endpoint_url="x")]})
    sleeps: list[float] = []
    result = ingest(repo, [input_of(repo)], make_runner(repo, fake, sleeps))
    assert result.committed and sleeps == [1.0, 0.0]


def test_run_job_flow_is_not_retried_after_a_lost_connection(repo: Repository) -> None:
    from botocore.exceptions import EndpointConnectionError

    fake = FakeEmr([], errors={"run_job_flow": [EndpointConnectionError(endpoint_url="x")]})
    with pytest.raises(EmrConnectionError, match="not retried: it could create a second"):
        ingest(repo, [input_of(repo)], make_runner(repo, fake, []))
    assert fake.calls == ["run_job_flow"] and published(repo) == ([], [])


def test_dry_run_prints_the_request_and_starts_nothing(repo: Repository, capsys) -> None:
    from ivory.emr.dry_run import DryRunRepository
    from ivory.emr.launch import DryRunDone

    fake = FakeEmr([])
    runner = make_runner(repo, fake, [], dry_run=True)
    with pytest.raises(DryRunDone):
        ingest(DryRunRepository(repo), [input_of(repo)], runner)  # type: ignore[arg-type]
    request = json.loads(capsys.readouterr().out)
    assert [s["Name"] for s in request["Steps"]] == ["ivory ingest: spark-submit"]
    assert fake.calls == []
    assert not list(repo.data.list("factsets/", None))  # no id allocated
    assert not list(repo.data.list("_ivory/", None))  # nothing uploaded


def test_validate_dry_run_prints_a_spark_submit_flow_issue_5(repo: Repository, capsys) -> None:
    """``validate --runner emr`` goes through the same launcher: a dry run prints its
    request (one spark-submit step, the job reads S3 directly) and calls nothing."""
    from ivory.emr.dry_run import DryRunRepository
    from ivory.emr.launch import DryRunDone
    from ivory.validate import validate

    fake = FakeEmr([])
    with pytest.raises(DryRunDone):
        validate(DryRunRepository(repo),  # type: ignore[arg-type]
                 make_runner(repo, fake, [], dry_run=True))
    request = json.loads(capsys.readouterr().out)
    steps = [s["Name"] for s in request["Steps"]]
    assert steps == ["ivory validate: spark-submit"]
    assert fake.calls == []
