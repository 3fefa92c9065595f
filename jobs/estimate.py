"""spark-submit entry point: the same options as `python -m spark_zsc estimate`.

    spark-submit --master yarn jobs/estimate.py --config nightly.yaml --sample-rows 1000

The session comes from spark-submit (master, resources, --conf); --master is refused here.
"""

import sys

from spark_zsc.jobs.cli import main

if __name__ == "__main__":
    sys.exit(main(["estimate", *sys.argv[1:]], submitted=True))
