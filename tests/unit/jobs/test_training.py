"""SageMaker Nova recipe path: recipe merge and checks, the CreateTrainingJob request, the checkpoint manifest."""

from __future__ import annotations

import dataclasses
import io
import json
import tarfile
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from nova_pipeline.contract.catalog import MODELS, PEFT_SCHEME_PATHS, SAGEMAKER_TRAINING, Method, RecipeFamily
from nova_pipeline.contract.execution_input import parse_execution_input
from nova_pipeline.contract.run_state import ExecutionRef, PreparedData
from nova_pipeline.core.errors import AwsRequestFailed, TransientServiceError
from nova_pipeline.core.problems import InputProblemsError
from nova_pipeline.core.settings import SettingsError, TrainingJobSettings, load_settings
from nova_pipeline.jobs import training

EXECUTION = ExecutionRef(name="exec-1", arn="arn:aws:states:us-east-1:123456789012:execution:sm:exec-1")
DATA = PreparedData.model_validate(
    {
        "manifestUri": "s3://data/prepared/exec-1/manifest.json",
        "prefix": "s3://data/prepared/exec-1/",
        "train": {"uri": "s3://data/prepared/exec-1/train.jsonl", "records": 400},
        "validation": {"uri": "s3://data/prepared/exec-1/validation.jsonl", "records": 50},
    }
)
RESOURCES = training.TrainingResources(
    environment="dev",
    region="us-east-1",
    role_arn="arn:aws:iam::123456789012:role/sagemaker",
    artifacts_bucket="artifacts",
)


def sagemaker_run(**overrides: object):  # type: ignore[no-untyped-def]
    return parse_execution_input(
        {"dataset": {"uri": "raw/x.csv"}, "platform": "sagemaker", "runName": "lora", **overrides}
    )


REWARD_ARN = "arn:aws:lambda:us-east-1:123456789012:function:nova-dev-RftGrader"


def request_for(run, data=DATA, resources=RESOURCES):  # type: ignore[no-untyped-def]
    """The merged recipe and CreateTrainingJob request of a run with the shipped recipe the catalog picks."""
    option, _, _ = training.instances(run)
    recipe = training.build_recipe(
        run, training.load_shipped_recipe(option.recipe), reward_function_arn=resources.reward_function_arn
    )
    request = training.training_job_request(
        run,
        data,
        EXECUTION,
        resources,
        recipe=recipe,
        recipe_uri=f"s3://artifacts/recipes/job/{option.recipe}.yaml",
        recipe_file=f"{option.recipe}.yaml",
    )
    return recipe, request


def _all_options(spec):  # type: ignore[no-untyped-def]
    return [(option, False) for option in spec.options] + [(option, True) for option in spec.full_rank]


def test_every_catalog_recipe_is_shipped_for_its_model() -> None:
    for (model, _method), spec in SAGEMAKER_TRAINING.items():
        for option, full_rank in _all_options(spec):
            recipe = training.load_shipped_recipe(option.recipe)
            assert recipe["run"]["model_type"] == MODELS[model].customization_id
            assert recipe["run"]["model_name_or_path"] == MODELS[model].sagemaker_base_model
            assert recipe["run"]["replicas"] == option.default_count
            scheme = training._get(recipe, PEFT_SCHEME_PATHS[spec.family])
            assert (scheme in (None, "null")) if full_rank else scheme == "lora", option.recipe
    shipped = sorted(o.recipe for spec in SAGEMAKER_TRAINING.values() for o, _ in _all_options(spec))
    assert shipped == training.shipped_recipes()


def test_nova_2_lite_base_model_is_nova_lite_2() -> None:
    run = sagemaker_run(baseModel="nova-2-lite", split={"train": 0.9, "validation": 0, "test": 0.1})
    recipe, request = request_for(run)

    assert MODELS["nova-2-lite"].sagemaker_base_model == "nova-lite-2/prod"
    assert recipe["run"]["model_name_or_path"] == "nova-lite-2/prod"
    assert request["HyperParameters"]["base_model"] == "nova-lite-2/prod"


def _leaf_paths(tree: dict[str, Any], prefix: str = "") -> set[str]:
    paths: set[str] = set()
    for key, value in tree.items():
        if isinstance(value, dict) and value:
            paths |= _leaf_paths(value, f"{prefix}{key}.")
        else:
            paths.add(f"{prefix}{key}")
    return paths


def _keys(prefix: str, words: str) -> set[str]:
    return {f"{prefix}.{word}" for word in words.split()}


_RUN = "name model_type model_name_or_path replicas data_s3_path output_s3_path"
_MLFLOW = "mlflow_tracking_uri mlflow_experiment_name mlflow_run_name"
# Leaf keys of the published recipes (aws/sagemaker-hyperpod-recipes@263199555b2e, recipes_collection/recipes/
# fine-tuning/nova/...: nova_1_0/*/SFT/*_lora_sft.yaml, nova_2_0/nova_lite/SFT/nova_lite_2_0_p5_gpu_lora_sft.yaml,
# nova_2_0/nova_lite/RFT/nova_lite_v2_smtj_p5_p5en_gpu_lora_rft.yaml).
PUBLISHED_LAYOUTS = {
    RecipeFamily.NOVA_1_SFT: _keys("run", f"{_RUN} {_MLFLOW}")
    | _keys(
        "training_config",
        "max_length global_batch_size trainer.max_epochs model.hidden_dropout model.attention_dropout "
        "model.ffn_dropout model.optim.lr model.optim.name model.optim.adam_w_mode model.optim.eps "
        "model.optim.weight_decay model.optim.betas model.optim.sched.warmup_steps "
        "model.optim.sched.constant_steps model.optim.sched.min_lr model.peft.peft_scheme "
        "model.peft.lora_tuning.loraplus_lr_ratio model.peft.lora_tuning.alpha model.peft.lora_tuning.adapter_dropout",
    ),
    RecipeFamily.NOVA_2_SFT: _keys("run", f"{_RUN} {_MLFLOW} validation_data_s3_path validation_data_s3_path_list")
    | _keys(
        "training_config",
        "max_steps save_steps save_top_k max_length global_batch_size reasoning_enabled val_check_interval "
        "limit_val_batches lr_scheduler.warmup_steps lr_scheduler.min_lr optim_config.lr "
        "optim_config.weight_decay optim_config.adam_beta1 optim_config.adam_beta2 peft.peft_scheme "
        "peft.lora_tuning.alpha peft.lora_tuning.lora_plus_lr_ratio model_importance_score.fine_tuned_model",
    ),
    RecipeFamily.NOVA_2_RFT: _keys("run", "name model_type model_name_or_path data_s3_path replicas reward_lambda_arn")
    | _keys(
        "training_config",
        "max_length global_batch_size reasoning_effort rollout.advantage_strategy.number_generation "
        "rollout.generator.max_new_tokens rollout.generator.set_random_seed rollout.generator.temperature "
        "rollout.generator.top_k rollout.rewards.api_endpoint.lambda_arn "
        "rollout.rewards.api_endpoint.lambda_concurrency_limit trainer.max_steps trainer.save_steps "
        "trainer.ent_coeff trainer.kl_loss_coef trainer.optim_config.lr trainer.optim_config.weight_decay "
        "trainer.optim_config.adam_beta1 trainer.optim_config.adam_beta2 trainer.peft.peft_scheme "
        "trainer.peft.lora_tuning.alpha trainer.peft.lora_tuning.lora_plus_lr_ratio",
    ),
}


@pytest.mark.parametrize("key", sorted(SAGEMAKER_TRAINING), ids=lambda key: f"{key[0]}-{key[1].value}")
def test_shipped_recipes_have_the_published_layout_of_their_family(key: tuple[str, Method]) -> None:
    spec = SAGEMAKER_TRAINING[key]
    for option, full_rank in _all_options(spec):
        recipe = training.load_shipped_recipe(option.recipe)
        # The full-rank recipes are the LoRA layout without the adapter settings (published files, same commit).
        lora_only = {path for path in PUBLISHED_LAYOUTS[spec.family] if ".lora_tuning." in path}
        expected = PUBLISHED_LAYOUTS[spec.family] - lora_only if full_rank else PUBLISHED_LAYOUTS[spec.family]
        assert _leaf_paths(recipe) == expected, option.recipe
        # Every hyperparameter of the family has its path in the recipe (LoRA settings in LoRA recipes only).
        assert set(training.recipe_paths(spec.family).values()) - lora_only <= _leaf_paths(recipe)


def test_shipped_recipe_numbers_are_numbers() -> None:
    def strings(tree: Any) -> list[str]:
        if isinstance(tree, dict):
            return [s for value in tree.values() for s in strings(value)]
        return [tree] if isinstance(tree, str) else []

    for name in training.shipped_recipes():
        for value in strings(training.load_shipped_recipe(name)):
            with pytest.raises(ValueError):
                float(value)
    assert training.load_recipe_text("lr: 1e-5\nname: '1e-5'\n") == {"lr": 1e-5, "name": "1e-5"}


def test_nova_1_hyperparameters_and_overrides_are_merged_into_the_recipe() -> None:
    run = sagemaker_run(
        hyperparameters={"epochCount": 3, "learningRate": 2e-5, "globalBatchSize": 32, "loraPlusLrRatio": 8},
        sagemaker={
            "recipeOverrides": {"training_config.model.peft.lora_tuning.alpha": 64, "training_config.max_length": 4096}
        },
    )

    recipe, _ = request_for(run)

    config = recipe["training_config"]
    assert config["trainer"]["max_epochs"] == 3
    assert config["model"]["optim"]["lr"] == 2e-5
    assert config["global_batch_size"] == 32
    assert config["max_length"] == 4096
    assert config["model"]["peft"]["lora_tuning"] == {"loraplus_lr_ratio": 8.0, "alpha": 64, "adapter_dropout": 0.01}


def test_nova_2_sft_hyperparameters_go_to_the_nova_2_paths() -> None:
    run = sagemaker_run(
        baseModel="nova-2-lite",
        split={"train": 0.9, "validation": 0, "test": 0.1},
        hyperparameters={
            "maxSteps": 40,
            "learningRate": 2e-5,
            "learningRateWarmupSteps": 6,
            "loraPlusLrRatio": 32,
            "reasoningEnabled": False,
        },
    )

    recipe, _ = request_for(run)

    config = recipe["training_config"]
    assert (config["max_steps"], config["save_steps"]) == (40, 40)  # ${oc.select:training_config.max_steps}
    assert config["optim_config"]["lr"] == 2e-5
    assert config["lr_scheduler"] == {"warmup_steps": 6, "min_lr": 1e-6}
    assert config["peft"]["lora_tuning"] == {"alpha": 64, "lora_plus_lr_ratio": 32.0}
    assert config["reasoning_enabled"] is False
    assert "trainer" not in config and "model" not in config


def test_nova_1_hyperparameters_are_refused_for_nova_2_with_the_known_ones() -> None:
    with pytest.raises(InputProblemsError) as caught:
        sagemaker_run(
            baseModel="nova-2-lite",
            split={"train": 0.9, "validation": 0, "test": 0.1},
            hyperparameters={"epochCount": 2, "hiddenDropout": 0.1},
        )

    messages = [str(p) for p in caught.value.problems]
    assert messages[0].startswith(
        "$.hyperparameters.epochCount: is not a hyperparameter of sft on sagemaker (nova-2-lite, recipe family "
        "nova-2-sft); known: maxSteps, learningRate,"
    )
    assert messages[1].startswith("$.hyperparameters.hiddenDropout: is not a hyperparameter of sft on sagemaker")


def test_a_hyperparameter_whose_path_the_recipe_lacks_is_refused_with_the_existing_keys() -> None:
    run = sagemaker_run(hyperparameters={"loraAlpha": 64, "adapterDropout": 0.1})
    full_rank = training.load_shipped_recipe("nova_micro_1_0_g5_g6_48x_gpu_lora_sft")
    full_rank["training_config"]["model"]["peft"] = {"peft_scheme": None}

    with pytest.raises(InputProblemsError) as caught:
        training.build_recipe(run, full_rank)

    assert [str(p) for p in caught.value.problems] == [
        "$.sagemaker.recipe: training_config.model.peft.peft_scheme is null; sagemaker.peftScheme 'lora' needs a LoRA "
        "recipe ('lora')",
        "$.hyperparameters.loraAlpha: the recipe has no 'training_config.model.peft.lora_tuning.alpha' (no section "
        "'lora_tuning' at training_config.model.peft; keys there: peft_scheme)",
        "$.hyperparameters.adapterDropout: the recipe has no 'training_config.model.peft.lora_tuning.adapter_dropout' "
        "(no section 'lora_tuning' at training_config.model.peft; keys there: peft_scheme)",
    ]


def test_unknown_override_keys_and_out_of_range_overrides_are_reported_together() -> None:
    run = sagemaker_run(
        sagemaker={
            "recipeOverrides": {
                "training_config.max_lenght": 4096,
                "training_config.max_length": 100000,
                "trainer.epochs": 1,
                "run.replicas": 4,
            }
        }
    )

    with pytest.raises(InputProblemsError) as caught:
        request_for(run)

    assert [str(p) for p in caught.value.problems] == [
        "$.sagemaker.recipeOverrides.training_config.max_lenght: the recipe has no 'training_config.max_lenght' "
        "(keys at training_config: max_length, global_batch_size, trainer, model)",
        "$.sagemaker.recipeOverrides.trainer.epochs: the recipe has no 'trainer.epochs' (no section 'trainer' at "
        "the top level; keys there: run, training_config)",
        "$.sagemaker.recipeOverrides.run.replicas: is set by the pipeline from sagemaker.instanceCount",
        "$.sagemaker.recipeOverrides.maxLength: 100000 is out of range; allowed: int from 1024 to 32768",
    ]


def test_a_recipe_for_another_model_is_refused() -> None:
    run = sagemaker_run(baseModel="nova-lite")

    with pytest.raises(InputProblemsError) as caught:
        training.build_recipe(run, training.load_shipped_recipe("nova_micro_1_0_g5_g6_48x_gpu_lora_sft"))

    assert [str(p) for p in caught.value.problems] == [
        "$.sagemaker.recipe: run.model_type is 'amazon.nova-micro-v1:0:128k'; nova-lite needs "
        "'amazon.nova-lite-v1:0:300k'"
    ]


def test_training_job_request_uses_the_nova_image_recipe_channel_and_converse_data() -> None:
    run = sagemaker_run(sagemaker={"instanceType": "ml.g5.48xlarge", "maxRuntimeHours": 6})
    _, request = request_for(run)
    client = boto3.client("sagemaker", region_name="us-east-1")

    with Stubber(client) as stub:
        stub.add_response(
            "create_training_job",
            {"TrainingJobArn": "arn:aws:sagemaker:us-east-1:123456789012:training-job/x"},
            expected_params=request,
        )
        job = training.start_training_job(client, request, wait_seconds=9)

    assert request["AlgorithmSpecification"] == {
        "TrainingImage": "708977205387.dkr.ecr.us-east-1.amazonaws.com/nova-fine-tune-repo:SM-TJ-SFT-latest",
        "TrainingInputMode": "File",
    }
    assert request["HyperParameters"] == {
        "sagemaker_recipe_local_path": "/opt/ml/input/data/recipe/nova_micro_1_0_g5_g6_48x_gpu_lora_sft.yaml",
        "base_model": "nova-micro/prod",
    }
    channels = {c["ChannelName"]: c["DataSource"]["S3DataSource"] for c in request["InputDataConfig"]}
    assert channels["train"]["S3DataType"] == "Converse"
    assert channels["recipe"]["S3Uri"] == "s3://artifacts/recipes/job/"
    assert request["ResourceConfig"] == {"InstanceType": "ml.g5.48xlarge", "InstanceCount": 1, "VolumeSizeInGB": 200}
    assert request["StoppingCondition"] == {"MaxRuntimeInSeconds": 21600}
    assert request["OutputDataConfig"] == {"S3OutputPath": "s3://artifacts/jobs/"}
    assert job.output_uri == f"s3://artifacts/jobs/{request['TrainingJobName']}/output/output.tar.gz"


def test_a_create_accepted_then_answered_503_is_this_executions_job_on_the_retry() -> None:
    # Given: CreateTrainingJob was accepted but answered 503; the state retries
    _, request = request_for(sagemaker_run())
    client = boto3.client("sagemaker", region_name="us-east-1")
    arn = f"arn:aws:sagemaker:us-east-1:123456789012:training-job/{request['TrainingJobName']}"
    described = {
        "TrainingJobName": request["TrainingJobName"],
        "TrainingJobArn": arn,
        "TrainingJobStatus": "InProgress",
        "SecondaryStatus": "Training",
        "AlgorithmSpecification": {"TrainingInputMode": "File"},
        "ResourceConfig": {"InstanceType": "ml.g5.48xlarge", "InstanceCount": 1, "VolumeSizeInGB": 200},
        "StoppingCondition": {},
        "CreationTime": "2026-01-01T00:00:00Z",
        "ModelArtifacts": {"S3ModelArtifacts": "s3://a/b"},
    }
    with Stubber(client) as stub:
        stub.add_client_error("create_training_job", "ServiceUnavailable", http_status_code=503)
        with pytest.raises(TransientServiceError):
            training.start_training_job(client, request, wait_seconds=9)
        # When: the retry meets the job it created
        stub.add_client_error("create_training_job", "ResourceInUse", "Training job names must be unique")
        stub.add_response("describe_training_job", described, {"TrainingJobName": request["TrainingJobName"]})
        job = training.start_training_job(client, request, wait_seconds=9)

        stub.assert_no_pending_responses()
    # Then: it is this execution's job
    assert (job.job_arn, job.started_by_this_execution) == (arn, True)


def test_the_validation_channel_is_named_validation() -> None:
    _, request = request_for(sagemaker_run())

    channels = {c["ChannelName"]: c["DataSource"]["S3DataSource"] for c in request["InputDataConfig"]}
    assert list(channels) == ["train", "validation", "recipe"]
    assert channels["validation"] == {
        "S3DataType": "Converse",
        "S3Uri": "s3://data/prepared/exec-1/validation.jsonl",
        "S3DataDistributionType": "FullyReplicated",
    }


def test_sagemaker_rft_sends_the_reward_lambda_and_plain_s3_data() -> None:
    run = sagemaker_run(
        baseModel="nova-2-lite",
        method="rft",
        split={"train": 0.9, "validation": 0, "test": 0.1},
        hyperparameters={"learningRate": 1e-5, "maxSteps": 20, "numberGeneration": 4},
    )
    resources = dataclasses.replace(RESOURCES, reward_function_arn=REWARD_ARN)

    recipe, request = request_for(run, resources=resources)

    assert recipe["run"]["reward_lambda_arn"] == REWARD_ARN
    rollout = recipe["training_config"]["rollout"]
    assert rollout["rewards"]["api_endpoint"] == {"lambda_arn": REWARD_ARN, "lambda_concurrency_limit": 12}
    assert rollout["advantage_strategy"] == {"number_generation": 4}
    trainer = recipe["training_config"]["trainer"]
    assert (trainer["max_steps"], trainer["save_steps"], trainer["optim_config"]["lr"]) == (20, 20, 1e-5)
    assert request["HyperParameters"] == {
        "sagemaker_recipe_local_path": "/opt/ml/input/data/recipe/nova_lite_v2_smtj_p5_p5en_gpu_lora_rft.yaml",
        "base_model": "nova-lite-2/prod",
        "reward_lambda_arn": REWARD_ARN,
    }
    assert [(c["ChannelName"], c["DataSource"]["S3DataSource"]["S3DataType"]) for c in request["InputDataConfig"]] == [
        ("train", "S3Prefix"),
        ("recipe", "S3Prefix"),
    ]
    assert request["AlgorithmSpecification"]["TrainingImage"].endswith(":SM-TJ-RFT-V2-latest")
    assert request["ResourceConfig"]["InstanceType"] == "ml.p5.48xlarge"
    assert request["ResourceConfig"]["InstanceCount"] == 4


def test_sagemaker_rft_without_the_reward_function_names_the_variable() -> None:
    run = sagemaker_run(baseModel="nova-2-lite", method="rft", split={"train": 0.9, "validation": 0, "test": 0.1})

    with pytest.raises(SettingsError, match="NOVA_GRADER_FUNCTION_ARN"):
        request_for(run)


def test_the_training_settings_take_the_grader_function() -> None:
    environment = {
        "NOVA_ENVIRONMENT": "dev",
        "NOVA_POLL_INTERVAL_SECONDS": "60",
        "NOVA_SAGEMAKER_ROLE_ARN": "arn:aws:iam::123456789012:role/sagemaker",
        "NOVA_ARTIFACTS_BUCKET": "artifacts",
        "NOVA_DATA_BUCKET": "data",
        "NOVA_KMS_KEY_ARN": "arn:aws:kms:us-east-1:123456789012:key/k",
        "NOVA_MLFLOW_TRACKING_ARN": "",
    }
    with pytest.raises(SettingsError, match="NOVA_GRADER_FUNCTION_ARN is not set"):
        load_settings(TrainingJobSettings, environment)
    settings = load_settings(TrainingJobSettings, {**environment, "NOVA_GRADER_FUNCTION_ARN": REWARD_ARN})
    assert settings.grader_function_arn == REWARD_ARN
    assert settings.mlflow_tracking_arn is None  # empty: no experiment tracking


def test_the_instance_count_becomes_the_recipe_replicas() -> None:
    run = sagemaker_run(sagemaker={"instanceType": "ml.p5.48xlarge", "instanceCount": 4})

    recipe, request = request_for(run)

    assert training.instances(run)[0].recipe == "nova_micro_1_0_p5_p4d_gpu_lora_sft"
    assert recipe["run"]["replicas"] == 4
    assert request["ResourceConfig"]["InstanceCount"] == 4
    assert recipe["training_config"]["max_length"] == 32768


def test_nova_images_differ_by_method_and_region() -> None:
    assert training.image_uri("nova-2-lite", training.Method.RFT, "us-east-1").endswith(":SM-TJ-RFT-V2-latest")
    assert training.image_uri("nova-2-lite", training.Method.SFT, "us-west-2") == (
        "176779409107.dkr.ecr.us-west-2.amazonaws.com/nova-fine-tune-repo:SM-TJ-SFT-V2-latest"
    )
    assert training.image_uri("nova-pro", training.Method.SFT, "ap-northeast-1") == (
        "878185805882.dkr.ecr.ap-northeast-1.amazonaws.com/nova-fine-tune-repo:SM-TJ-SFT-latest"
    )
    with pytest.raises(InputProblemsError) as caught:
        training.image_uri("nova-micro", training.Method.SFT, "eu-west-2")
    assert [str(p) for p in caught.value.problems] == [
        "$.platform: SageMaker training of nova-micro (sft) has no Nova training image in eu-west-2; regions: "
        "us-east-1, us-west-2, ap-northeast-1"
    ]


def _archive(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def test_checkpoint_is_read_from_the_manifest_in_the_output_archive() -> None:
    archive = _archive({"manifest.json": json.dumps({"checkpoint_s3_bucket": "s3://escrow/ckpt/"}).encode()})

    assert training.checkpoint_from_output(archive, "s3://a/out.tar.gz") == "s3://escrow/ckpt/"


def test_missing_manifest_is_a_clear_error() -> None:
    with pytest.raises(AwsRequestFailed, match=r"s3://a/out.tar.gz has no manifest.json"):
        training.checkpoint_from_output(_archive({"model.bin": b"x"}), "s3://a/out.tar.gz")


def test_a_user_recipe_must_be_yaml_with_a_training_config() -> None:
    assert training.parse_recipe("run: {}\ntraining_config:\n  max_length: 2048\n", "s3://a/r.yaml") == {
        "run": {},
        "training_config": {"max_length": 2048},
    }
    with pytest.raises(InputProblemsError) as caught:
        training.parse_recipe("just: text\n", "s3://a/r.yaml")
    assert [str(p) for p in caught.value.problems] == [
        "$.sagemaker.recipe: s3://a/r.yaml: not a Nova recipe (no training_config section)"
    ]


def test_the_training_job_and_the_imported_model_carry_the_lifecycle_tags() -> None:
    run = sagemaker_run(tags={"team": "ml"})
    _, request = request_for(run)

    assert request["Tags"] == [
        {"Key": "environment", "Value": "dev"},
        {"Key": "execution", "Value": "exec-1"},
        {"Key": "project", "Value": "nova-customization"},
        {"Key": "run", "Value": "lora"},
        {"Key": "team", "Value": "ml"},
    ]

    from nova_pipeline.contract.run_state import JobState, RunState

    output = "s3://artifacts/jobs/job/output/output.tar.gz"
    state = RunState(
        execution=EXECUTION,
        input=run,
        job=JobState(platform="sagemaker", job_arn="arn:j", job_name="job", output_uri=output, done=True),
    )
    archive = _archive({"manifest.json": json.dumps({"checkpoint_s3_bucket": "s3://escrow/ckpt/"}).encode()})
    s3, bedrock = boto3.client("s3", region_name="us-east-1"), boto3.client("bedrock", region_name="us-east-1")
    model_arn = "arn:aws:bedrock:us-east-1:123456789012:custom-model/imported/abc123def456"
    with Stubber(s3) as s3_stub, Stubber(bedrock) as stub:
        s3_stub.add_response(
            "get_object", {"Body": io.BytesIO(archive)}, {"Bucket": "artifacts", "Key": "jobs/job/output/output.tar.gz"}
        )
        stub.add_response(
            "create_custom_model",
            {"modelArn": model_arn},
            expected_params={
                "modelName": training.resource_name("dev", "lora", "exec-1", "model"),
                "roleArn": "arn:aws:iam::123456789012:role/bedrock",
                "modelSourceConfig": {"s3DataSource": {"s3Uri": "s3://escrow/ckpt/"}},
                "clientRequestToken": training.client_request_token(EXECUTION.arn, "custom-model"),
                "modelTags": [
                    {"key": "environment", "value": "dev"},
                    {"key": "execution", "value": "exec-1"},
                    {"key": "project", "value": "nova-customization"},
                    {"key": "run", "value": "lora"},
                    {"key": "team", "value": "ml"},
                ],
            },
        )
        model = training.import_trained_model(
            state,
            environment="dev",
            role_arn="arn:aws:iam::123456789012:role/bedrock",
            kms_key_arn=None,
            s3=s3,
            bedrock=bedrock,
            wait_seconds=5,
        )

    assert model.model_arn == model_arn
