"""The object store (Wasabi in production, MinIO/s3rver locally), configured only from S3_* variables."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import boto3
from botocore.client import BaseClient
from botocore.config import Config

from .settings import Settings, get_settings


def client(settings: Settings | None = None) -> BaseClient:
    s = settings or get_settings()
    return boto3.client(
        "s3",
        endpoint_url=s.s3_endpoint,
        region_name=s.s3_region,
        aws_access_key_id=s.s3_access_key_id,
        aws_secret_access_key=s.s3_secret_access_key,
        config=Config(
            s3={"addressing_style": "path" if s.s3_force_path_style else "auto"},
            retries={"max_attempts": 5, "mode": "standard"},
            signature_version="s3v4",
        ),
    )


class Store:
    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or get_settings()
        self.bucket = self.settings.s3_bucket
        self.s3 = client(self.settings)

    def get_json(self, key: str) -> Any:
        obj = self.s3.get_object(Bucket=self.bucket, Key=key)
        return json.loads(obj["Body"].read())

    def put_json(self, key: str, value: Any) -> None:
        body = json.dumps(value, indent=2).encode()
        self.s3.put_object(Bucket=self.bucket, Key=key, Body=body, ContentType="application/json")

    def upload_file(self, path: Path, key: str) -> None:
        self.s3.upload_file(str(path), self.bucket, key)

    def download_file(self, key: str, dest: Path) -> None:
        """Downloads to a temp name and renames, so a crash never leaves a truncated file at `dest`."""
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=".part-")
        os.close(fd)
        try:
            self.s3.download_file(self.bucket, key, tmp)
            os.replace(tmp, dest)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)

    def head(self, key: str) -> dict[str, Any] | None:
        try:
            return self.s3.head_object(Bucket=self.bucket, Key=key)
        except self.s3.exceptions.ClientError as e:
            if e.response.get("Error", {}).get("Code") in {"404", "NoSuchKey", "NotFound"}:
                return None
            raise

    def ensure_bucket(self) -> None:
        try:
            self.s3.head_bucket(Bucket=self.bucket)
        except self.s3.exceptions.ClientError:
            self.s3.create_bucket(Bucket=self.bucket)
