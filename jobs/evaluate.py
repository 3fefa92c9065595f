"""spark-submit entry point: the same options as `python -m spark_zsc evaluate`.

    spark-submit jobs/evaluate.py --input-table labelled.tickets --text-col body --gold-col team \
        --labels "billing,outage,feature request" --labels "a billing question,a service outage,a product idea" \
        --template "This ticket is about {}." --template "{}" --report /reports/tickets

The session comes from spark-submit (master, resources, --conf); --master is refused here.
"""

import sys

from spark_zsc.jobs.cli import main

if __name__ == "__main__":
    sys.exit(main(["evaluate", *sys.argv[1:]], submitted=True))
