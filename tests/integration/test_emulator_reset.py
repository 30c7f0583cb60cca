"""Ministack.reset empties the emulator, as LocalSystem relies on before it applies again."""

from __future__ import annotations

import boto3


def test_reset_forgets_every_resource(emulator):
    client_options = {
        "endpoint_url": emulator.url, "region_name": "us-east-1",
        "aws_access_key_id": "local", "aws_secret_access_key": "local",
    }  # fmt: skip
    dynamodb, s3 = boto3.client("dynamodb", **client_options), boto3.client("s3", **client_options)
    dynamodb.create_table(
        TableName="before-reset", KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}], BillingMode="PAY_PER_REQUEST",
    )  # fmt: skip
    s3.create_bucket(Bucket="before-reset")
    assert "before-reset" in dynamodb.list_tables()["TableNames"]

    emulator.reset()

    assert dynamodb.list_tables()["TableNames"] == []
    assert s3.list_buckets()["Buckets"] == []
