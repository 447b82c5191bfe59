"""The azurerm backend: each state a block blob `<key_prefix>/<tenant>/<integration>.json`, locked
by a finite blob lease (15-60 s) renewed in the background while a command runs, so a killed
holder frees it within a minute; the holder is in the blob's metadata; every write passes the
lease and `If-Match` the ETag read; each version is copied to `<...>.history/<serial>.json`.
"""
from __future__ import annotations

import base64
import json
import os
import uuid
from dataclasses import asdict
from datetime import datetime, timezone
from typing import Any, Callable, Mapping, TypeVar

from azure.core import MatchConditions
from azure.core.exceptions import (
    AzureError,
    ClientAuthenticationError,
    HttpResponseError,
    ResourceExistsError,
    ResourceModifiedError,
    ResourceNotFoundError,
)
from azure.storage.blob import BlobClient, BlobLeaseClient, BlobServiceClient, ContainerClient

from exoform.backends.base import (
    Lease,
    LockHeld,
    LockInfo,
    Meta,
    RenewedLease,
    StateKey,
    Stored,
    Unlocked,
    Version,
)
from exoform.engine.errors import ExoformError, LockError, StateError, StateWriteError, WriteConflict
from exoform.engine.lock import locked_message

HOLDER = "exoformlock"  # metadata keys must be C# identifiers
DEFAULT_LEASE = 60
T = TypeVar("T")


def open_backend(options: Mapping[str, Any]) -> "AzureBackend":
    return AzureBackend(_container(options), str(options.get("key_prefix", "exoform")),
                        int(options.get("lease_seconds", DEFAULT_LEASE)))


def _container(options: Mapping[str, Any]) -> ContainerClient:
    auth = options["auth"]
    name = options["container"]
    if auth["method"] == "connection_string":
        variable = auth["connection_string_env"]
        try:
            service = BlobServiceClient.from_connection_string(_secret(variable, "the connection string"))
        except ValueError:
            raise ExoformError(f"the connection string in {variable} is not a storage account's "
                               "connection string (copy it from the account's Access keys)") from None
        return service.get_container_client(name)
    url = options["account_url"]
    if auth["method"] == "sas":
        token = _secret(auth["sas_token_env"], "the SAS token").lstrip("?")
        return BlobServiceClient(f"{url}?{token}").get_container_client(name)
    from azure.identity import DefaultAzureCredential  # only for Entra ID sign-in

    return BlobServiceClient(url, credential=DefaultAzureCredential()).get_container_client(name)


def _secret(variable: str, what: str) -> str:
    value = os.environ.get(variable, "")
    if not value:
        raise ExoformError(f"the azurerm backend reads {what} from the environment variable "
                           f"{variable}, which is not set")
    return value


class AzureLease(RenewedLease):
    """A finite blob lease (15-60 s), renewed every third of its length."""

    what = "blob lease"

    def __init__(self, client: BlobLeaseClient, holder: LockInfo, seconds: int) -> None:
        super().__init__(holder, seconds / 3)
        self.client = client

    def renew(self) -> None:
        try:
            self.client.renew()
        except AzureError as error:
            raise LockError(_reason(error)) from None

    def end(self) -> None:
        self.client.release()


class AzureBackend:
    """States in one container; safe to share between threads (one client per call site)."""

    kind = "azurerm"
    per_tenant = True

    def __init__(self, container: ContainerClient, prefix: str, lease_seconds: int) -> None:
        self.container = container
        self.prefix = prefix.strip("/")
        self.lease_seconds = lease_seconds

    def _name(self, key: StateKey) -> str:
        return f"{self.prefix}/{key.tenant}/{key.integration}.json"

    def _blob(self, key: StateKey) -> BlobClient:
        return self.container.get_blob_client(self._name(key))

    def where(self, key: StateKey) -> str:
        return f"{self.container.url}/{self._name(key)}"

    def read(self, key: StateKey) -> Stored | None:
        def download() -> Stored | None:
            try:
                stream = self._blob(key).download_blob()
            except ResourceNotFoundError:
                return None
            data = stream.readall()
            return Stored(data, str(stream.properties.etag)) if data else None  # empty: a lock placeholder
        return self._call(key, "read", download)

    def write(self, key: StateKey, data: bytes, meta: Meta, *, expected: str | None,
              lease: Lease) -> str:
        held = _own(lease)
        blob = self._blob(key)

        def upload() -> str:
            etag = expected if expected is not None else self._placeholder_etag(blob)
            metadata = {"lineage": meta.lineage, "serial": str(meta.serial), HOLDER: _encoded(held.holder)}
            written = blob.upload_blob(data, overwrite=True, lease=held.client, etag=etag,
                                       match_condition=MatchConditions.IfNotModified, metadata=metadata)
            self._keep_history(key, data, meta)
            return str(written["etag"])
        return self._call(key, "write", upload)

    def _placeholder_etag(self, blob: BlobClient) -> str:
        props = blob.get_blob_properties()
        if props.size:
            raise WriteConflict(f"{blob.url} was written by someone else since this command read it; "
                                "nothing was overwritten. Run the command again")
        return str(props.etag)

    def _keep_history(self, key: StateKey, data: bytes, meta: Meta) -> None:
        name = f"{self.prefix}/{key.tenant}/{key.integration}.history/{meta.serial:012d}.json"
        self.container.upload_blob(name, data, overwrite=True, metadata={
            "lineage": meta.lineage, "serial": str(meta.serial), "writtenat": _now()})

    def delete(self, key: StateKey, *, expected: str, lease: Lease) -> None:
        held = _own(lease)

        def remove() -> None:
            self._blob(key).delete_blob(lease=held.client, etag=expected,
                                        match_condition=MatchConditions.IfNotModified)
        self._call(key, "delete", remove)

    def acquire(self, key: StateKey, holder: LockInfo) -> AzureLease:
        blob = self._blob(key)

        def take() -> AzureLease:
            try:
                client = blob.acquire_lease(lease_duration=self.lease_seconds, lease_id=str(uuid.uuid4()))
            except ResourceNotFoundError:  # no state yet: an empty placeholder carries the lease
                try:
                    blob.upload_blob(b"", overwrite=False)
                except ResourceExistsError:
                    pass
                client = blob.acquire_lease(lease_duration=self.lease_seconds, lease_id=str(uuid.uuid4()))
            metadata = {**blob.get_blob_properties(lease=client).metadata, HOLDER: _encoded(holder)}
            blob.set_blob_metadata(metadata, lease=client)
            lease = AzureLease(client, holder, self.lease_seconds)
            lease.start()
            return lease
        try:
            return self._call(key, "lock", take)
        except _Leased:
            found = self.holder(key)
            raise LockHeld(locked_message(f"blob lease on {self.where(key)}", found), found) from None

    def holder(self, key: StateKey) -> LockInfo | None:
        def who() -> LockInfo | None:
            try:
                props = self._blob(key).get_blob_properties()
            except ResourceNotFoundError:
                return None
            if props.lease.state != "leased":
                return None
            return _decoded(props.metadata.get(HOLDER, ""))
        return self._call(key, "read", who)

    def force_unlock(self, key: StateKey, lock_id: str, *, force: bool) -> Unlocked:
        found = self.holder(key)
        if found is None:
            raise LockError(f"{self.where(key)} is not leased: there is nothing to unlock")
        if found.id != lock_id:
            raise LockError(f"lock ID {lock_id} does not match the lease on {self.where(key)} (held "
                            f"as {found.id} by {found.describe()}); nothing was changed")
        self._call(key, "unlock", lambda: BlobLeaseClient(self._blob(key)).break_lease(lease_break_period=0))
        return Unlocked(found, True)

    def history(self, key: StateKey) -> tuple[Version, ...]:
        def listing() -> tuple[Version, ...]:
            prefix = f"{self.prefix}/{key.tenant}/{key.integration}.history/"
            found = [Version(int(b.metadata.get("serial", "0")), b.metadata.get("lineage", ""),
                             b.metadata.get("writtenat", ""), b.name)
                     for b in self.container.list_blobs(name_starts_with=prefix, include=["metadata"])]
            return tuple(sorted(found, key=lambda v: v.serial))
        return self._call(key, "read", listing)

    def read_version(self, key: StateKey, serial: int) -> bytes | None:
        name = f"{self.prefix}/{key.tenant}/{key.integration}.history/{serial:012d}.json"

        def download() -> bytes | None:
            try:
                return bytes(self.container.download_blob(name).readall())
            except ResourceNotFoundError:
                return None
        return self._call(key, "read", download)

    def close(self) -> None:
        self.container.close()

    def _call(self, key: StateKey, what: str, action: Callable[[], T]) -> T:
        """Run one storage call; its errors become exoform's (never a raw HTTP error)."""
        try:
            return action()
        except (ExoformError, _Leased):
            raise
        except ResourceModifiedError:
            raise WriteConflict(f"{self.where(key)} changed since this command read it (another "
                                "writer); nothing was overwritten. Run the command again") from None
        except HttpResponseError as error:
            code = _code(error)
            if code == "LeaseAlreadyPresent":
                raise _Leased() from None
            if code.startswith("Lease"):
                raise LockError(f"the state's lease on {self.where(key)} was lost ({code}): it was broken "
                                "(force-unlock) or lapsed; nothing was written. Run `exoform plan`") from None
            if code == "ContainerNotFound":
                raise StateError(f"the container {self.container.container_name} does not exist: create it "
                                 "(az storage container create) and grant the pipeline Storage Blob Data "
                                 "Contributor on it") from None
            raise _failure(what, key, self, error) from None
        except (ClientAuthenticationError, AzureError) as error:
            raise _failure(what, key, self, error) from None


class _Leased(Exception):
    """The blob is leased by someone else."""


def _failure(what: str, key: StateKey, backend: AzureBackend, error: AzureError) -> ExoformError:
    message = f"could not {what} the state at {backend.where(key)}: {_reason(error)}"
    return StateWriteError(message) if what in ("write", "delete") else StateError(message)


def _code(error: AzureError) -> str:
    """The service's error code as Azure spells it (LeaseAlreadyPresent), from a str or an enum."""
    code = getattr(error, "error_code", None) or ""
    return str(getattr(code, "value", code))


def _reason(error: AzureError) -> str:
    """A short reason: the service's error code, never the response body or a credential."""
    code = _code(error)
    status = getattr(error, "status_code", None)
    if code or status:
        return f"{code or 'error'} (HTTP {status})" if status else str(code)
    return type(error).__name__


def _encoded(holder: LockInfo) -> str:
    return base64.b64encode(json.dumps(asdict(holder)).encode()).decode("ascii")


def _decoded(text: str) -> LockInfo | None:
    try:
        return LockInfo(**json.loads(base64.b64decode(text)))
    except (ValueError, TypeError):
        return None


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _own(lease: Lease) -> AzureLease:
    if not isinstance(lease, AzureLease):
        raise LockError("this write does not hold the state's blob lease; nothing was written")
    lease.check()
    return lease
