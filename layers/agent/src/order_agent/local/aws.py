"""A LocalStack-compatible AWS emulator on one loopback port, for development and tests.

moto's server (a development dependency) serves DynamoDB and S3 at one edge URL, reached
with `AWS_ENDPOINT_URL` like any LocalStack endpoint. `create_conversation_store` makes the
checkpoint table and bucket the way the Terraform `conversation_store` module defines them
(PK/SK strings, TTL on `ttl`), for runs that have not applied Terraform to the emulator.
"""

from __future__ import annotations

import logging
import socket

import boto3

from order_agent.settings import Settings


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class LocalAws:
    def __init__(self, port: int | None = None) -> None:
        from moto.server import ThreadedMotoServer

        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one access-log line per request otherwise
        self.port = port or free_port()
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
        self._server.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self._server.stop()


def create_conversation_store(settings: Settings) -> None:
    dynamodb = boto3.client("dynamodb", region_name=settings.aws_region, endpoint_url=settings.aws_endpoint_url)
    if settings.checkpoint_table not in dynamodb.list_tables()["TableNames"]:
        dynamodb.create_table(
            TableName=settings.checkpoint_table,
            KeySchema=[{"AttributeName": "PK", "KeyType": "HASH"}, {"AttributeName": "SK", "KeyType": "RANGE"}],
            AttributeDefinitions=[
                {"AttributeName": "PK", "AttributeType": "S"},
                {"AttributeName": "SK", "AttributeType": "S"},
            ],
            BillingMode="PAY_PER_REQUEST",
        )
        dynamodb.get_waiter("table_exists").wait(TableName=settings.checkpoint_table)
        dynamodb.update_time_to_live(
            TableName=settings.checkpoint_table, TimeToLiveSpecification={"Enabled": True, "AttributeName": "ttl"}
        )
    if settings.checkpoint_bucket:
        s3 = boto3.client("s3", region_name=settings.aws_region, endpoint_url=settings.aws_endpoint_url)
        existing = {bucket["Name"] for bucket in s3.list_buckets().get("Buckets", [])}
        if settings.checkpoint_bucket not in existing:
            s3.create_bucket(Bucket=settings.checkpoint_bucket)
