"""Maven flags for the jars of the installed pyspark: its Spark line (which picks the Delta,
Iceberg and Spark Connect artifacts in jars/*/pom.xml), its version, and the version of the Hadoop
client it ships (hadoop-aws and the MiniDFSCluster must match it).

    python jars/maven_flags.py 4.1   ->  -Dspark.line=4.1 -Dspark.version=4.1.4 -Dhadoop.version=3.4.2

The argument is the line the Makefile expects (SPARK); a pyspark of another line is refused."""

import sys
from pathlib import Path

import pyspark

LINES = ("3.5", "4.1")  # the lines jars/pom.xml has profiles for

expected = sys.argv[1]
version = pyspark.__version__
line = ".".join(version.split(".")[:2])
if line not in LINES or line != expected:
    sys.exit(
        f"pyspark {version} is installed, but the tests' jars are for Spark {expected}"
        f" (lines with jars: {', '.join(LINES)}): reinstall with `make env SPARK={expected}`"
    )
hadoop = sorted(Path(pyspark.__file__).parent.joinpath("jars").glob("hadoop-client-api-*.jar"))
if not hadoop:
    sys.exit(f"pyspark {version} ships no hadoop-client-api jar: hadoop-aws cannot be matched to it")
hadoop_version = hadoop[0].name.removeprefix("hadoop-client-api-").removesuffix(".jar")
print(f"-Dspark.line={line} -Dspark.version={version} -Dhadoop.version={hadoop_version}")
