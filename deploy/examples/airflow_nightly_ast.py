"""Nightly AST 2:4 retraining with Airflow's SparkSubmitOperator (apache-airflow-providers-apache-spark).

Each run reads that day's corpus partition and starts from the previous night's exported model; the run directory is
dated, so a retried task skips finished stages and resumes an interrupted fine-tune from its last checkpoint.
Set SPARSEFT_HOME to the sparseft checkout or install directory and define the `spark_default` connection (the
cluster's master). The Java 17 flags are deploy/conf/java17-flags, as deploy/bin/sparseft-submit passes them; sparseft
sets its Kryo serializer itself.
"""
import os
from datetime import datetime

from airflow import DAG
from airflow.providers.apache.spark.operators.spark_submit import SparkSubmitOperator

HOME = os.environ.get("SPARSEFT_HOME", "/opt/sparseft")
with open(os.path.join(HOME, "deploy/conf/java17-flags")) as f:
    JAVA17 = " ".join(line.strip() for line in f if line.strip() and not line.startswith("#"))

with DAG(
    dag_id="sparseft_nightly_ast",
    start_date=datetime(2026, 11, 1),
    schedule="30 2 * * *",
    catchup=False,
    max_active_runs=1,
) as dag:
    SparkSubmitOperator(
        task_id="ast_2_4",
        conn_id="spark_default",
        application=os.path.join(HOME, "jobs/target/sparseft.jar"),
        java_class="org.sparseft.jobs.Main",
        conf={
            "spark.driver.extraJavaOptions": JAVA17,
            "spark.executor.extraJavaOptions": JAVA17,
        },
        application_args=[
            "run", os.path.join(HOME, "deploy/recipes/ast-2-4.yaml"),
            "--out", "hdfs:///runs/ast-2-4/dt={{ ds }}",
            "--set", "data.path=hdfs:///corpus/dt={{ ds }}",
            "--set", "model=hdfs:///runs/ast-2-4/dt={{ prev_ds }}/export",
        ],
        retries=2,
    )
