"""Where everything lives in the environment's buckets: the one source for the stacks' grants and the runtime.

The stacks grant each function exactly these prefixes (`stacks/` imports this module), and the runtime builds every
key with the functions below, so IAM and the code cannot drift apart. Everything a run writes is scoped by its
execution name, so two runs never share a key and a failed run leaves nothing in another run's place.

- data bucket: `raw/` (uploads), `prepared/<run>/` (training sets and manifest), `evaluation/<run>/` (batches and
  predictions), `reports/<run>/` (report.json, report.html), `map-results/<map>/<map run>/` (Distributed Map results),
  `approvals/<run>.json` (the task token of a pending approval)
- artifacts bucket: `jobs/` (customization and training job outputs), `recipes/<job>/` (SageMaker recipes)
"""

from __future__ import annotations

RAW = "raw/"
PREPARED = "prepared/"
EVALUATION = "evaluation/"
REPORTS = "reports/"
JOBS = "jobs/"
RECIPES = "recipes/"
MAP_RESULTS = "map-results/"
APPROVALS = "approvals/"

DATA_BUCKET_PREFIXES = (RAW, PREPARED, EVALUATION, REPORTS, MAP_RESULTS, APPROVALS)
# Where each Distributed Map writes its items' results (ResultWriter); Step Functions adds the map run's id, which
# is unique per execution, below it.
PREPARE_MAP_RESULTS = f"{MAP_RESULTS}prepare/"
EVALUATION_MAP_RESULTS = f"{MAP_RESULTS}evaluation/"
ARTIFACTS_BUCKET_PREFIXES = (JOBS, RECIPES)


def prepared(run_id: str) -> str:
    """The prefix of one run's prepared splits and manifest."""
    return f"{PREPARED}{run_id}/"


def evaluation(run_id: str) -> str:
    """The prefix of one run's evaluation batches and predictions."""
    return f"{EVALUATION}{run_id}/"


def evaluation_batches(run_id: str) -> str:
    """The prefix the evaluation Distributed Map lists (one object per batch)."""
    return f"{evaluation(run_id)}batches/"


def report(run_id: str) -> str:
    """The prefix of one run's report.json and report.html."""
    return f"{REPORTS}{run_id}/"


def approval(run_id: str) -> str:
    """The key of one execution's pending approval (its task token), found by the execution's name."""
    return f"{APPROVALS}{run_id}.json"


def recipe(job_name: str, file_name: str) -> str:
    """The key of the recipe a SageMaker training job reads through its `recipe` channel."""
    return f"{RECIPES}{job_name}/{file_name}"


def in_raw(key: str) -> bool:
    """Whether a data-bucket key is under the uploads prefix, the only place a dataset is read from."""
    return key.startswith(RAW)


def active_model_parameter_name(environment: str) -> str:
    """The SSM parameter holding the environment's active-model record (written on promotion, read by the API)."""
    return f"/nova-customization/{environment}/active-model"
