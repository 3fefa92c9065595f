"""`python -m spark_zsc classify|stream|estimate|evaluate|distill ...` (console script `spark-zsc`); the
same commands under `jobs/` for spark-submit."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import traceback
from pathlib import Path
from typing import Optional, Sequence

from ..errors import AgreementTooLow, ConfigError, OutputBusy
from ..log import FORMAT as LOG_FORMAT
from ..log import log
from .commands import COMMANDS, add_job_arguments, build_job_options
from .memory_limits import memory_limit_advice
from .progress import shows_progress_line


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="spark-zsc", description="Zero-shot text classification on Spark.")
    commands = parser.add_subparsers(dest="command", required=True)
    for name, command in COMMANDS.items():
        parser_ = commands.add_parser(name, help=command.help, description=command.help)
        add_job_arguments(parser_, name)
        parser_.add_argument("--summary-json", help="also write the end-of-job summary as JSON to this file")
    return parser


def _hive_jars_present() -> bool:
    from pyspark.find_spark_home import _find_spark_home

    return any(Path(_find_spark_home(), "jars").glob("spark-hive_*.jar"))


LOG4J_CONFIG = Path(__file__).with_name("log4j2-cli.properties")


def _quiet_log4j_option(options) -> Optional[str]:
    """The driver's Java option that points log4j at LOG4J_CONFIG (Spark's start-up lines a user
    cannot act on, such as the native-hadoop and loopback-address warnings, at ERROR), or None
    where the user chose the driver's Java options or Spark's log configuration: through --conf,
    spark-defaults.conf, PYSPARK_SUBMIT_ARGS, or a log4j2 file in Spark's conf folder."""
    if "spark.driver.extraJavaOptions" in options.spark_conf or not LOG4J_CONFIG.is_file():
        return None
    submit_args = os.environ.get("PYSPARK_SUBMIT_ARGS", "")
    if "extraJavaOptions" in submit_args or "--driver-java-options" in submit_args:
        return None
    from pyspark.find_spark_home import _find_spark_home

    conf_dir = Path(os.environ.get("SPARK_CONF_DIR") or Path(_find_spark_home(), "conf"))
    if any(conf_dir.glob("log4j2*")):
        return None
    defaults = conf_dir / "spark-defaults.conf"
    if defaults.is_file() and "spark.driver.extraJavaOptions" in defaults.read_text(errors="replace"):
        return None
    return f"-Dlog4j2.configurationFile={LOG4J_CONFIG.resolve().as_uri()}"


def _session(options, command: str, submitted: bool):
    from pyspark import SparkContext
    from pyspark.sql import SparkSession

    if options.remote:
        if options.remote.startswith("local"):
            os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        builder = SparkSession.builder.remote(options.remote)
        for key, value in options.spark_conf.items():
            builder = builder.config(key, value)
        return builder.getOrCreate()
    builder = SparkSession.builder.appName(f"spark_zsc {command}")
    if not submitted:
        master = options.master or "local[*]"
        # Spark's console bar would garble the job's own progress line, and a log that is no terminal
        console_bar = sys.stderr.isatty() and not shows_progress_line(options)
        builder = builder.master(master).config("spark.ui.showConsoleProgress", str(console_bar).lower())
        if master.startswith("local"):
            # local workers must run this interpreter, which has spark_zsc and torch
            os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
            # Spark's start-up noise off, where this call starts the JVM (a running one keeps its logging)
            quiet = _quiet_log4j_option(options) if SparkContext._active_spark_context is None else None
            if quiet:
                builder = builder.config("spark.driver.extraJavaOptions", quiet)
    for key, value in options.spark_conf.items():
        builder = builder.config(key, value)
    if _hive_jars_present():
        builder = builder.enableHiveSupport()  # tables persist in the deployment's metastore
    return builder.getOrCreate()


def _check_models(options):
    """Every model the job runs is resolved and checked before Spark starts (and cached for
    the job). With --embedding-fallback, an NLI model that cannot be had gives way to the
    embedding strategy, loudly: the summary names the model that ran."""
    from ..errors import ModelUnavailable
    from ..runtime.model_source import load_bundle

    try:
        for kind, name in options.model_names.items():
            load_bundle(name, kind)
        return options
    except ModelUnavailable as error:
        from .options import ClassifyConfig

        fallback = isinstance(options, ClassifyConfig) and options.embedding_fallback  # classify's option
        if not fallback or options.strategy != "nli":
            raise
        log.warning(
            "%s\n--embedding-fallback: classifying with the embedding strategy and %s instead",
            error,
            options.embedding_model,
        )
        options = options.replace(strategy="embedding", shortlist=None)
        for kind, name in options.model_names.items():
            load_bundle(name, kind)
        return options


def _runner(name: str, options):
    """What runs a command (`classify --estimate` and `--stream` are the estimate and stream
    commands): it returns the job's summary. The evaluate job's modules (matplotlib among them)
    are imported only when it runs."""
    if name == "evaluate":
        from .evaluate.job import run_evaluate

        return run_evaluate
    if name == "distill":
        from .distill import run_distill

        return run_distill
    if options.estimate:
        from .estimate import run_estimate

        return run_estimate
    if options.stream:
        from .streaming import run_stream

        return run_stream
    from .classify import run_classify

    return run_classify


def main(argv: Optional[Sequence[str]] = None, *, submitted: bool = False) -> int:
    """Exit status: 0 done, 2 configuration error, 3 another run is writing the output (nothing
    was written in either case), 4 a Python worker ran out of memory (what to set instead is
    the last line on stderr), 5 a student agreed with its teacher under --min-agreement (nothing
    written; the figures and what to try on stderr)."""
    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT)
    logging.getLogger("py4j").setLevel(logging.WARNING)  # not its INFO "Closing down clientserver connection"
    args = vars(_parser().parse_args(argv))
    command = args.pop("command")
    summary_json = args.pop("summary_json", None)
    spark, owned, options = None, False, None
    try:
        options = build_job_options(args, command)
        run = _runner(command, options)
        if submitted and options.master:
            raise ConfigError(
                "--master is for the CLI; under spark-submit pass --master to spark-submit itself"
            )
        options = _check_models(options)
        from pyspark.sql import SparkSession

        owned = (
            not submitted and SparkSession.getActiveSession() is None
        )  # a caller's session is not ours to stop
        spark = _session(options, command, submitted)
        summary = run(spark, options)
    except ConfigError as error:
        print(f"spark-zsc: configuration error: {error}", file=sys.stderr)
        return 2
    except OutputBusy as error:
        print(f"spark-zsc: output busy: {error}", file=sys.stderr)
        return 3
    except AgreementTooLow as error:
        print(f"spark-zsc: no student written: {error}", file=sys.stderr)
        return 5
    except Exception as error:
        advice = memory_limit_advice(error, options) if options is not None else None
        if advice is None:
            raise
        traceback.print_exc()  # Spark's own account first; the advice is the last word
        print(f"spark-zsc: out of memory: {advice}", file=sys.stderr)
        return 4
    finally:
        if spark is not None and owned:
            spark.stop()
    print(summary.format())
    if summary_json:
        Path(summary_json).write_text(json.dumps(summary.as_dict(), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
