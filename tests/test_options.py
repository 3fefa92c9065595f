"""The option table reaches every face: each option with the same default on the Transformer,
the SQL function and the jobs (flags and YAML), and the same bad value refused by each, on
the driver, before Spark runs anything."""

from __future__ import annotations

import argparse
import inspect

import pytest

from spark_zsc import ConfigError, ZeroShotClassifier, register_sql_function
from spark_zsc.jobs.commands import COMMANDS, add_job_arguments, build_job_options, load_yaml
from spark_zsc.options import JOB, OPTIONS, SQL
from spark_zsc.options import LABELS as LABELS_KIND

from helpers import LABELS, TEXTS
from processes import REPO

JOB_CLASSES = ("classify", "evaluate")


def minimal_job(tmp_path, job_class) -> dict:
    """The least a job needs to pass its own checks."""
    base = dict(input=str(tmp_path), text_col="text", labels="a,b")
    if job_class == "evaluate":
        return {**base, "gold_col": "gold", "report": str(tmp_path / "report")}
    return {**base, "output": str(tmp_path / "out")}


def bad_value(option):
    """A value of the option's type that its check refuses (None: its type is its only rule)."""
    if option.choices:
        return "no-such-" + option.key
    if option.kind is int:
        return option.least - 1
    if option.kind is float:
        return {"threshold": 5.0, "min_score": 1.5}.get(option.key, 0.0)
    if option.kind == LABELS_KIND:
        return ["a", " "]
    if option.kind is str:
        return {"hypothesis_template": "no slot", "model": " ", "embedding_model": " "}.get(option.key, "")
    if option.key == "label_descriptions":
        return {"a": " "}  # a blank description
    return None


def test_every_option_has_a_bad_value_to_try_or_is_a_flag():
    for option in OPTIONS:
        assert bad_value(option) is not None or option.kind is bool, option


def test_each_option_has_the_same_default_on_every_face(tmp_path):
    clf = ZeroShotClassifier()
    sql_defaults = {n: p.default for n, p in inspect.signature(register_sql_function).parameters.items()}
    jobs = {
        job_class: (
            build_job_options(minimal_job(tmp_path, job_class), job_class),
            minimal_job(tmp_path, job_class),
        )
        for job_class in JOB_CLASSES
    }
    for option in OPTIONS:
        if option.param:
            param = clf.getParam(option.param)
            assert param.doc == option.doc
            if option.default is None:
                assert not clf.hasDefault(param)
            else:
                assert clf.getOrDefault(param) == option.default
            getter = getattr(clf, "get" + option.param[0].upper() + option.param[1:])
            setter = getattr(clf, "set" + option.param[0].upper() + option.param[1:])
            assert callable(setter) and (option.default is None or getter() == option.default)
        if option.name(SQL):
            assert sql_defaults[option.name(SQL)] == option.default
        for job_class, (job, minimal) in jobs.items():
            declared = {o.name(JOB): o for o in COMMANDS[job_class].options}
            if option.name(JOB) in declared and option.name(JOB) not in minimal:
                assert getattr(job, option.name(JOB)) == declared[option.name(JOB)].default
                if declared[option.name(JOB)] is option:  # not a job's own variant (evaluate repeats labels)
                    assert getattr(job, option.name(JOB)) == option.default


def test_each_option_is_a_flag_and_a_yaml_key_of_every_job(tmp_path):
    for job_class in JOB_CLASSES:
        parser = argparse.ArgumentParser()
        add_job_arguments(parser, job_class)
        flags = {action.dest: action for action in parser._actions}
        for option in COMMANDS[job_class].options:
            action = flags[option.name(JOB)]
            assert option.flag in action.option_strings and action.help == option.doc
            assert tuple(action.choices or ()) == option.choices
        config = tmp_path / f"{job_class}.yaml"
        config.write_text("\n".join(f"{o.name(JOB)}: null" for o in COMMANDS[job_class].options))
        with pytest.raises(ConfigError) as error:  # every key accepted; only the job's own rules complain
            build_job_options({"config": str(config)}, job_class)
        assert "unknown key" not in str(error.value)


@pytest.mark.parametrize("option", [o for o in OPTIONS if bad_value(o) is not None], ids=lambda o: o.key)
def test_each_face_refuses_the_same_bad_value_before_spark_works(spark, tiny_model, tmp_path, option):
    bad = bad_value(option)
    jobs_before = set(spark.sparkContext.statusTracker().getJobIdsForGroup())
    if option.param:
        params = {"model": tiny_model, "inputCol": "text", "candidateLabels": LABELS, option.param: bad}
        frame = spark.createDataFrame([(t,) for t in TEXTS[:2]], "text string")
        with pytest.raises(ConfigError, match=option.param):
            ZeroShotClassifier(**params).transform(frame)
    if option.name(SQL):
        with pytest.raises(ConfigError, match=option.name(SQL)):
            register_sql_function(spark, "refused", **{"model": tiny_model, option.name(SQL): bad})
        assert not spark.catalog.functionExists("refused")
    for job_class in JOB_CLASSES:
        if option.name(JOB) in [o.name(JOB) for o in COMMANDS[job_class].options]:
            with pytest.raises(ConfigError, match=option.name(JOB)):
                build_job_options({**minimal_job(tmp_path, job_class), option.name(JOB): bad}, job_class)
    assert set(spark.sparkContext.statusTracker().getJobIdsForGroup()) == jobs_before


@pytest.mark.parametrize("face_value", ["maybe", 1])
def test_a_flag_option_refuses_what_is_not_true_or_false(spark, tmp_path, face_value):
    for option in (o for o in OPTIONS if o.kind is bool):
        if option.name(SQL):
            with pytest.raises(ConfigError, match=f"{option.name(SQL)} must be true or false"):
                register_sql_function(spark, "refused", **{option.name(SQL): face_value})
        if option.name(JOB):
            with pytest.raises(ConfigError, match=f"{option.name(JOB)} must be true or false"):
                build_job_options({**minimal_job(tmp_path, "classify"), option.name(JOB): face_value})
    for option in (
        o for o in COMMANDS["classify"].options if o.kind is bool and o.param is None
    ):  # the jobs' own flags
        with pytest.raises(ConfigError, match=f"{option.name(JOB)} must be true or false"):
            build_job_options({**minimal_job(tmp_path, "classify"), option.name(JOB): face_value})


def test_unknown_names_are_refused_on_every_face(tmp_path):
    with pytest.raises(TypeError, match="no param tokenBudgt"):
        ZeroShotClassifier(tokenBudgt=5)
    with pytest.raises(TypeError, match="no option token_budgt"):
        register_sql_function(None, "zs", token_budgt=5)
    config = tmp_path / "job.yaml"
    config.write_text("token_budgt: 5\n")
    with pytest.raises(ConfigError, match="unknown key.* token_budgt"):
        build_job_options({"config": str(config)})


def test_a_saved_classifier_loads_with_every_param(spark, tiny_model, tmp_path):
    clf = ZeroShotClassifier(
        model=tiny_model,
        inputCol="text",
        candidateLabels=LABELS,
        tokenBudget=777,
        shortlist=2,
        strategy="nli",
        distribution="path",
    )
    clf.save(str(tmp_path / "clf"))
    loaded = ZeroShotClassifier.load(str(tmp_path / "clf"))
    assert {p.name: loaded.getOrDefault(p) for p in loaded.params if loaded.isDefined(p)} == {
        p.name: clf.getOrDefault(p) for p in clf.params if clf.isDefined(p)
    }


@pytest.mark.parametrize("saved", ["saved_by_0.1.0", "saved_on_spark_3.5", "saved_on_spark_4.1"])
def test_what_was_saved_loads_on_this_spark(spark, saved):
    """A classifier and a PipelineModel (a SQLTransformer, then the classifier), committed as
    they were written: by spark_zsc 0.1.0 on Spark 4.3, by 0.3.0 on pyspark 3.5.7 and on 4.1.4.
    Each loads on the Spark line running the tests, the other line's included."""
    from pyspark.ml import PipelineModel

    folder = REPO / "tests" / "data" / saved
    expected = dict(
        model="/models/tiny-nli",
        inputCol="text",
        outputCol="topic",
        candidateLabels=["billing", "outage"],
        hypothesisTemplate="This ticket is about {}.",
        tokenBudget=2048,
        shortlist=2,
        multiLabel=True,
    )
    classifier = ZeroShotClassifier.load(str(folder / "classifier"))
    stage = PipelineModel.load(str(folder / "pipeline")).stages[1]
    for loaded in (classifier, stage):
        assert isinstance(loaded, ZeroShotClassifier)
        assert {name: loaded.getOrDefault(name) for name in expected} == expected
        assert loaded.getDistribution() == "auto" and loaded.getStrategy() == "nli"  # defaults of today


@pytest.mark.parametrize("config", sorted((REPO / "conf").glob("*.yaml")), ids=lambda p: p.name)
def test_every_example_config_holds_known_keys_and_valid_values(config):
    job_class = "evaluate" if config.name.startswith("evaluate") else "classify"
    values = load_yaml(str(config), job_class)  # unknown keys are refused here
    declared = {o.name(JOB): o for o in COMMANDS[job_class].options}
    for key, value in values.items():
        declared[key].validate(value, JOB)


def test_a_config_is_frozen_and_a_changed_copy_is_checked_again(tmp_path):
    """Each face's config is built once, checked, and never changed in place: a changed copy
    (the CLI's --embedding-fallback makes one) goes through the same rules."""
    import dataclasses

    config = build_job_options(minimal_job(tmp_path, "classify"))
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.strategy = "embedding"
    assert config.replace(strategy="embedding").classifier.strategy == "embedding"
    with pytest.raises(ConfigError, match="shortlist ranks labels by embeddings"):
        config.replace(strategy="embedding", shortlist=2)


@pytest.mark.parametrize(
    "given,refusal",
    [
        ({"device": "cpu", "precision": "fp16"}, "precision=fp16 needs a GPU"),
        ({"strategy": "embedding", "shortlist": 1}, "use it with strategy='nli'"),
        ({"shortlist": 3}, "shortlist 3 is more than the 2 candidate labels"),
    ],
)
def test_the_classifier_rules_hold_for_every_job(tmp_path, given, refusal):
    """The rules between classifier options are the classifier's, applied to the jobs' options
    before any Spark session starts."""
    for command in JOB_CLASSES:
        with pytest.raises(ConfigError, match=refusal):
            build_job_options({**minimal_job(tmp_path, command), **given}, command)


def test_the_type_stubs_are_current():
    """The .pyi stubs of the classes made from the option tables match the tables."""
    from spark_zsc.options import stubs

    assert stubs.main(["--check"]) == 0, "run python -m spark_zsc.options.stubs"
