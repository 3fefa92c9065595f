"""spark-submit entry point: the same options as `python -m spark_zsc distill`.

    spark-submit jobs/distill.py --input-table warehouse.tickets --text-col body \
        --labels "billing,outage,feature request" --output /models/tickets-student

The session comes from spark-submit (master, resources, --conf); --master is refused here.
"""

import sys

from spark_zsc.jobs.cli import main

if __name__ == "__main__":
    sys.exit(main(["distill", *sys.argv[1:]], submitted=True))
