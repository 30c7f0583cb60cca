"""A LocalStack-compatible AWS emulator on one loopback port, for development and tests.

moto's server (a development dependency) serves DynamoDB and S3 at one edge URL, reached
with `AWS_ENDPOINT_URL` like any LocalStack endpoint. `create_conversation_store` makes the
checkpoint table and bucket the way the Terraform `conversation_store` module defines them
(PK/SK strings, TTL on `ttl`), for runs that have not applied Terraform to the emulator.
"""

from __future__ import annotations

import json
import logging
import socket
import threading
from typing import Any

import boto3

from order_agent.settings import Settings


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class LocalAws:
    def __init__(self, port: int | None = None) -> None:
        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one access-log line per request otherwise
        self.port = port or free_port()
        self._server = _serial_moto_server(self.port)
        self._server.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self._server.stop()


def _serial_moto_server(port: int) -> Any:
    """moto's ThreadedMotoServer, answering one request at a time. Its backends are not
    thread-safe: under concurrent writes a Query or a TransactWriteItems (which deep-copies the
    table) iterates a dict that another request changes, fails with "dictionary changed size
    during iteration" and answers 500. One process serves all requests under the GIL anyway."""
    _transactions_back_up_their_partitions()
    from moto.moto_server.threaded_moto_server import ThreadedMotoServer
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
    from werkzeug.serving import make_server

    class SerialMotoServer(ThreadedMotoServer):
        def _server_entry(self) -> None:  # moto's own, with the app behind a lock
            app = DomainDispatcherApplication(create_backend_app)
            lock = threading.Lock()

            def serial_app(environ: Any, start_response: Any) -> list[bytes]:
                with lock:
                    return list(app(environ, start_response))  # the body too is built under the lock

            self._server = make_server(
                self._ip_address, self._port, serial_app, True, request_handler=MotoRequestHandler
            )
            self._server_ready_event.set()
            self._server.serve_forever()

    return SerialMotoServer(ip_address="127.0.0.1", port=port, verbose=False)


def _transactions_back_up_their_partitions() -> None:
    """moto's TransactWriteItems deep-copies the whole table once per item of the transaction, to
    restore it if one fails: with a turn's writes in one transaction (order_agent.conversations.turn)
    that is most of a turn's time once the table holds a few hundred items. The server answers one
    request at a time, so copying the partitions the transaction touches is enough to restore it."""
    import copy

    from moto.dynamodb import models
    from moto.dynamodb.models.dynamo_type import DynamoType
    from moto.dynamodb.models.table import Table

    original = models.DynamoDBBackend.transact_write_items
    if getattr(original, "backs_up_partitions", False):
        return
    missing = object()

    class _TablesNotCopied:
        """moto's `copy` module, minus the copy of whole tables (their partitions are backed up instead)."""

        def __getattr__(self, name: str) -> Any:
            return getattr(copy, name)

        @staticmethod
        def deepcopy(value: Any, *args: Any) -> Any:
            return value if isinstance(value, Table) else copy.deepcopy(value, *args)

    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
        backups = {}
        for entry in transact_items:
            operation = next(iter(entry.values()))
            table = self.tables.get(operation.get("TableName"))
            attributes = operation.get("Key") or operation.get("Item") or {}
            if table is None or table.hash_key_attr not in attributes:
                continue
            partition = DynamoType(attributes[table.hash_key_attr])
            if (table, partition) not in backups:
                backups[table, partition] = (
                    copy.deepcopy(table.items[partition]) if partition in table.items else missing
                )
        models.copy = _TablesNotCopied()
        try:
            original(self, transact_items)
        except Exception:
            for (table, partition), items in backups.items():
                if items is missing:
                    table.items.pop(partition, None)
                else:
                    table.items[partition] = items
            raise
        finally:
            models.copy = copy

    transact_write_items.backs_up_partitions = True  # type: ignore[attr-defined]
    models.DynamoDBBackend.transact_write_items = transact_write_items


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


def create_handoff_inbox(settings: Settings, queue_name: str) -> str:
    """The handoff bus (HANDOFF_EVENT_BUS), a rule matching the handoff events and an SQS queue as its
    target, as the Terraform `handoff` module makes them with `create_inbox_queue` (without its key,
    dead-letter queue and alarms), for runs that have not applied Terraform. Returns the queue's URL."""
    from order_agent.handoff import DETAIL_TYPE, EVENT_SOURCE

    options = {"region_name": settings.aws_region, "endpoint_url": settings.aws_endpoint_url}
    events, sqs = boto3.client("events", **options), boto3.client("sqs", **options)
    bus = settings.handoff_event_bus
    if bus not in {b["Name"] for b in events.list_event_buses()["EventBuses"]}:
        events.create_event_bus(Name=bus)
    queue_url = sqs.create_queue(QueueName=queue_name)["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    pattern = json.dumps({"source": [EVENT_SOURCE], "detail-type": [DETAIL_TYPE]})
    events.put_rule(Name=f"{bus}-inbox", EventBusName=bus, EventPattern=pattern)
    events.put_targets(Rule=f"{bus}-inbox", EventBusName=bus, Targets=[{"Id": "inbox", "Arn": queue_arn}])
    return queue_url


def create_trace_queue(
    settings: Settings, name: str, *, max_receive_count: int = 5, visibility_timeout_s: int = 60
) -> tuple[str, str]:
    """The trace queue with its dead-letter queue (redrive after `max_receive_count` receives) and the
    bucket for big traces (TRACE_BUCKET, when set), as terraform/modules/trace_pipeline makes them, for
    runs that have not applied Terraform. Returns the queue's and the dead-letter queue's URLs."""
    options = {"region_name": settings.aws_region, "endpoint_url": settings.aws_endpoint_url}
    sqs = boto3.client("sqs", **options)
    dead_letter_url = sqs.create_queue(QueueName=f"{name}-dlq")["QueueUrl"]
    dead_letter_arn = sqs.get_queue_attributes(QueueUrl=dead_letter_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    redrive = json.dumps({"deadLetterTargetArn": dead_letter_arn, "maxReceiveCount": max_receive_count})
    attributes = {"RedrivePolicy": redrive, "VisibilityTimeout": str(visibility_timeout_s)}
    queue_url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
    if settings.trace_bucket:
        s3 = boto3.client("s3", **options)
        if settings.trace_bucket not in {b["Name"] for b in s3.list_buckets().get("Buckets", [])}:
            s3.create_bucket(Bucket=settings.trace_bucket)
    return queue_url, dead_letter_url
