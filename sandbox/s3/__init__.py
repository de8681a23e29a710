"""The S3 fake: moto's S3 server behind the sandbox's control API and presigned-URL expiry
(``sandbox.s3.app`` documents it)."""

from sandbox.s3.app import S3Fake, S3FakeConfig, config_from_env, create_app, start_s3

__all__ = ["S3Fake", "S3FakeConfig", "config_from_env", "create_app", "start_s3"]
