"""spark-submit entry point: the same options as `python -m spark_zsc classify`.

    spark-submit --master yarn jobs/classify.py --input-table raw.tickets --text-col body \
        --labels "billing,outage,feature request" --output-table enriched.tickets --mode overwrite

The session comes from spark-submit (master, resources, --conf); --master is refused here.
"""

import sys

from spark_zsc.jobs.cli import main

if __name__ == "__main__":
    sys.exit(main(["classify", *sys.argv[1:]], submitted=True))
