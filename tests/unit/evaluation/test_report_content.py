"""What the report says (issue 14, item 6): the baseline explained, measured and projected cost apart, a legend and
labelled axes, the per-class table, wrong answers and the data summary. The HTML is parsed, not string-matched."""

from __future__ import annotations

from html.parser import HTMLParser
from typing import Any, ClassVar

from nova_pipeline.contract.catalog import TaskType
from nova_pipeline.contract.run_state import ExecutionRef, JobState, RunState
from nova_pipeline.evaluation.cost import load_prices
from nova_pipeline.evaluation.gate import Thresholds
from nova_pipeline.evaluation.metrics import WRONG_ANSWER_SAMPLE
from nova_pipeline.evaluation.predictions import PredictionRow
from nova_pipeline.evaluation.report import data_summary, render_html
from nova_pipeline.evaluation.service import evaluation_report
from nova_pipeline.evaluation.stages import _training
from nova_pipeline.local.simulated_model import BaseModel

TRAFFIC = {"queriesPerMonth": 22000, "inputTokens": 800, "outputTokens": 60}
SCHEMA = "CREATE TABLE flight (origin TEXT, destination TEXT, price INTEGER)"
MANIFEST = {
    "records": {
        "read": 120,
        "accepted": 100,
        "duplicatesDropped": 7,
        "rejected": 13,
        "cappedFromTrain": 0,
        "cappedFromValidation": 0,
    },
    "problems": {"count": 13, "first": ["tickets.csv line 4: column 'label' is empty"]},
    "fixes": {"reservedStrings": 2, "controlCharacters": 0},
    "outputs": {"train": {"records": 80}, "test": {"records": 10}},
    "labelVariants": [
        {
            "variants": {"feature_request": 40, "Feature_Request": 1},
            "notInSystemPrompt": ["Feature_Request"],
            "warning": "labels 'feature_request' (40 examples), 'Feature_Request' (1 example) differ only by case",
        }
    ],
}


class Node:
    def __init__(self, tag: str, attrs: dict[str, str | None], parent: Node | None) -> None:
        self.tag, self.attrs, self.parent = tag, attrs, parent
        self.children: list[Node | str] = []

    @property
    def text(self) -> str:
        return "".join(c if isinstance(c, str) else c.text for c in self.children)

    @property
    def classes(self) -> list[str]:
        return (self.attrs.get("class") or "").split()

    def descendants(self) -> list[Node]:
        found = []
        for child in self.children:
            if isinstance(child, Node):
                found += [child, *child.descendants()]
        return found

    def find(self, tag: str, css: str | None = None) -> list[Node]:
        return [n for n in self.descendants() if n.tag == tag and (css is None or css in n.classes)]


class Page(HTMLParser):
    """The page as a tree of nodes, for structural assertions."""

    VOID: ClassVar[set[str]] = {"meta", "br", "rect", "line", "polyline", "img", "link"}

    def __init__(self, text: str) -> None:
        super().__init__()
        self.root = Node("#document", {}, None)
        self._current = self.root
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        node = Node(tag, dict(attrs), self._current)
        self._current.children.append(node)
        if tag not in self.VOID:
            self._current = node

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._current.children.append(Node(tag, dict(attrs), self._current))

    def handle_endtag(self, tag: str) -> None:
        node: Node | None = self._current
        while node is not None and node.tag != tag:
            node = node.parent
        if node is not None and node.parent is not None:
            self._current = node.parent

    def handle_data(self, data: str) -> None:
        self._current.children.append(data)

    def find(self, tag: str, css: str | None = None) -> list[Node]:
        return self.root.find(tag, css)

    def section(self, heading: str) -> str:
        """The text from the h2 that starts with `heading` to the next h2 (siblings in the body)."""
        body = self.find("body")[0]
        texts, inside = [], False
        for child in body.children:
            if isinstance(child, Node) and child.tag == "h2":
                if inside:
                    break
                inside = child.text.startswith(heading)
                continue
            if inside:
                texts.append(child if isinstance(child, str) else child.text)
        assert inside, f"no section {heading!r}"
        return " ".join(texts)


def sql_rows(answers: list[str]) -> list[PredictionRow]:
    return [
        PredictionRow(
            id=str(i),
            prompt=f"Question {i}: cheapest flights?",
            prediction=answer,
            reference="SELECT origin FROM flight WHERE price < 100",
            context=SCHEMA,
            inputTokens=90,
            outputTokens=20,
        )
        for i, answer in enumerate(answers)
    ]


def simulated_sql_report() -> dict[str, Any]:
    base = BaseModel().answer(SCHEMA, "Which flights cost less than 100?")
    candidate = sql_rows(["SELECT origin FROM flight WHERE price < 100"] * 3)
    return evaluation_report(
        candidate_rows=candidate,
        baseline_rows=sql_rows([base] * 3),
        task=TaskType.TEXT_TO_SQL,
        model="nova-micro",
        prices=load_prices(),
        traffic=TRAFFIC,
        thresholds=Thresholds(min_primary_metric=0.5),
        simulated=True,
        baseline_info={"kind": "base-model", "model": "us.amazon.nova-micro-v1:0", "prompting": "the same prompts"},
        traffic_source="the default traffic",
    )


def classification_report(rows: list[PredictionRow], **extra: Any) -> dict[str, Any]:
    return evaluation_report(
        candidate_rows=rows,
        baseline_rows=rows,
        task=TaskType.CLASSIFICATION,
        model="nova-micro",
        prices=load_prices(),
        traffic=TRAFFIC,
        thresholds=Thresholds(),
        baseline_info={"kind": "base-model", "model": "us.amazon.nova-micro-v1:0"},
        **extra,
    )


def test_a_simulated_baseline_of_zero_says_what_it_is_and_why() -> None:
    report = simulated_sql_report()

    info = report["baselineInfo"]
    assert report["baseline"]["primary"] == 0.0
    assert (info["kind"], info["model"], info["prompting"]) == (
        "base-model",
        "us.amazon.nova-micro-v1:0",
        "the same prompts",
    )
    assert info["rows"] == 3 and info["sameRows"] is True
    assert "SELECT * FROM <first table>" in info["standIn"] and "stand-in" in info["standIn"]
    page = Page(render_html(report))
    baseline = page.section("Baseline")
    assert "us.amazon.nova-micro-v1:0" in baseline and "the same test rows as the candidate" in baseline
    assert "Simulated stand-in" in baseline and "execution accuracy is usually exactly 0" in baseline


def test_the_simulated_base_model_behaves_as_the_report_says() -> None:
    answer = BaseModel().answer(SCHEMA, "Which flights cost less than 100?")

    assert "SELECT * FROM flight;" in answer


def test_a_baseline_on_other_rows_is_flagged() -> None:
    rows = sql_rows(["SELECT 1"] * 2)
    report = evaluation_report(
        candidate_rows=rows,
        baseline_rows=rows[:1],
        task=TaskType.TEXT_TO_SQL,
        model="nova-micro",
        prices=load_prices(),
        traffic=TRAFFIC,
        thresholds=Thresholds(),
    )

    assert report["baselineInfo"]["sameRows"] is False
    assert "NO: not the candidate's rows" in Page(render_html(report)).section("Baseline")


def test_measured_and_projected_costs_are_apart_with_the_assumptions() -> None:
    report = simulated_sql_report()

    measured, projected = report["measuredCost"], report["cost"]
    assert (measured["basis"], projected["basis"]) == ("measured", "projected")
    assert (measured["inputTokensPerRequest"], measured["outputTokensPerRequest"]) == (90.0, 20.0)
    assert measured["costPer1kRequests"] == round((90 * 0.035 + 20 * 0.14) / 1000, 6)
    assert projected["trafficSource"] == "the default traffic"
    assert projected["priceSource"].startswith("the shipped table")
    assert "measuredCostPer1kRequests" not in report["run"]
    page = Page(render_html(report))
    measured_text = page.section("Cost measured in this evaluation")
    projected_text = page.section("Projected monthly cost")
    assert "$0.005950" in measured_text and "90.0 / 20.0" in measured_text
    assert "$2.7508" not in measured_text
    assert "an estimate, not a measurement" in page.find("h2")[-1].text
    for assumption in ("22,000", "800 / 60", "the default traffic", "2026-11-24 from the shipped table"):
        assert assumption in projected_text
    assert "$2.7508" in projected_text


def svg_named(page: Page, label: str) -> Node:
    return next(n for n in page.find("svg") if (n.attrs.get("aria-label") or "").startswith(label))


def test_the_bar_chart_has_a_legend_matching_its_bars_and_a_labelled_axis() -> None:
    page = Page(render_html(simulated_sql_report()))

    bars = svg_named(page, "candidate and baseline")
    legend = bars.find("g", "legend")[0]
    entries = list(
        zip([r.attrs["fill"] for r in legend.find("rect")], [t.text for t in legend.find("text")], strict=True)
    )
    drawn = {r.attrs["fill"] for r in bars.find("rect") if r not in legend.find("rect")}
    assert [text for _, text in entries] == ["candidate", "baseline (us.amazon.nova-micro-v1:0)"]
    assert {colour for colour, _ in entries} == drawn
    assert [t.text for t in bars.find("text", "axis-label")] == ["score (0–1)"]


def test_the_confusion_matrix_has_actual_and_predicted_axes() -> None:
    rows = [
        PredictionRow(prediction="bug", reference="bug", label="bug"),
        PredictionRow(prediction="billing", reference="bug", label="bug"),
    ]
    page = Page(render_html(classification_report(rows)))

    matrix = svg_named(page, "confusion matrix")
    assert [t.text for t in matrix.find("text", "axis-label")] == ["predicted →", "actual →"]
    assert "rotate(-90" in (matrix.find("text", "axis-label")[1].attrs["transform"] or "")


def test_per_class_scores_wrong_answers_and_the_data_summary_are_in_the_page() -> None:
    rows = [
        PredictionRow(id=str(i), prompt=f"ticket {i} <b>bold</b>", prediction="billing", reference="bug", label="bug")
        for i in range(WRONG_ANSWER_SAMPLE + 5)
    ] + [PredictionRow(id="ok", prompt="invoice", prediction="billing", reference="billing", label="billing")]

    report = classification_report(rows, data_summary=data_summary(MANIFEST, "s3://bucket/prepared/run/manifest.json"))
    text = render_html(report)
    page = Page(text)

    wrong = report["candidate"]["wrongAnswers"]
    assert wrong["total"] == WRONG_ANSWER_SAMPLE + 5 and len(wrong["sample"]) == WRONG_ANSWER_SAMPLE
    assert wrong["sample"][0] == {
        "id": "0",
        "input": "ticket 0 <b>bold</b>",
        "expected": "bug",
        "got": "billing",
        "graded": "billing",
        "error": None,
    }
    per_class = page.find("table", "per-class")[0]
    assert [c.text for c in per_class.find("th")] == ["label", "precision", "recall", "F1", "support", "baseline F1"]
    assert [c.text for c in per_class.find("tr")[1].find("td")] == ["billing", "0.062", "1.000", "0.118", "1", "0.118"]
    assert len(page.find("table", "wrong")[0].find("tr")) == 1 + WRONG_ANSWER_SAMPLE  # header, the bounded sample
    assert "<b>bold</b>" not in text and "ticket 0 &lt;b&gt;bold&lt;/b&gt;" in text
    assert f"{WRONG_ANSWER_SAMPLE + 5} wrong; the first {WRONG_ANSWER_SAMPLE}" in page.section("Wrong answers")
    data = page.section("Data")
    for figure in ("120", "100", "13", "7", "reservedStrings 2", "train 80, test 10"):
        assert figure in data
    assert "tickets.csv line 4: column 'label' is empty" in data
    assert "'Feature_Request' (1 example) differ only by case" in data
    assert report["data"]["duplicatesRemoved"] == 7 and report["data"]["rejected"] == 13


def test_wrong_answer_texts_are_cut_to_an_excerpt() -> None:
    rows = [PredictionRow(prompt="word " * 500, prediction="x " * 500, reference="y", label="y")]

    sample = classification_report(rows)["candidate"]["wrongAnswers"]["sample"][0]

    assert len(sample["input"]) == 240 and sample["input"].endswith("…")
    assert len(sample["got"]) == 240


def test_no_gate_gives_no_verdict() -> None:
    rows = [PredictionRow(prediction="bug", reference="bug", label="bug")]

    report = classification_report(rows, gated=False)

    assert report["gate"]["verdict"] == "no gate"
    headline = Page(render_html(report)).find("p", "verdict")[0].text
    assert headline == "No gate: no verdict (no thresholds were given)"


def test_the_final_training_loss_is_the_jobs_and_a_disagreeing_curve_is_shown() -> None:
    curves = {"training": [(1.0, 2.0), (2.0, 0.5)]}

    def state(loss: float) -> RunState:
        job = JobState(platform="bedrock", job_arn="arn", job_name="job", status="Completed", training_loss=loss)
        return RunState(execution=ExecutionRef(name="run", arn="arn"), job=job)

    agreeing, disagreeing = _training(state(0.5), curves), _training(state(0.12), curves)

    assert agreeing == {"finalTrainingLoss": 0.5, "source": agreeing["source"]}
    assert "trainingMetrics.trainingLoss" in agreeing["source"]
    assert disagreeing is not None and disagreeing["curveLastPoint"] == 0.5
    rows = [PredictionRow(prediction="bug", reference="bug", label="bug")]
    page = Page(render_html(classification_report(rows, training=disagreeing)))
    assert page.find("p", "final-loss")[0].text.startswith("Final training loss 0.1200 (reported by the job")
    assert page.find("p", "final-loss")[0].text.endswith("the loss curve's last point differs: 0.5000.")


def test_a_missing_baseline_says_why() -> None:
    report = evaluation_report(
        candidate_rows=sql_rows(["SELECT 1"]),
        baseline_rows=None,
        task=TaskType.TEXT_TO_SQL,
        model="nova-micro",
        prices=load_prices(),
        traffic=TRAFFIC,
        thresholds=Thresholds(),
        baseline_info={"kind": "promoted", "note": "no model was promoted yet to compare with"},
    )

    assert report["baselineInfo"] == {
        "kind": "none",
        "model": None,
        "note": "no model was promoted yet to compare with",
    }
    assert "No baseline: no model was promoted yet to compare with." in Page(render_html(report)).section("Baseline")
