"""spark-submit entry point: the same options as `python -m spark_zsc stream`.

    spark-submit --master yarn jobs/stream.py --input /data/incoming/tickets --input-format json \
        --text-col text --labels "billing,outage,feature request" \
        --checkpoint /data/checkpoints/tickets --output-table support.tickets_enriched

The session comes from spark-submit (master, resources, --conf); --master is refused here.
"""

import sys

from spark_zsc.jobs.cli import main

if __name__ == "__main__":
    sys.exit(main(["stream", *sys.argv[1:]], submitted=True))
