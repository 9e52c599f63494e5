"""An ML Metadata gRPC service over a store of this process, for the clients that reach Kubeflow's
metadata-grpc-service (`lineage` with metadata.grpc_host, the Kubeflow report task).

No MLMD server binary ships with the ml-metadata wheel. This serves ML Metadata's own service
definition (ml_metadata/proto/metadata_store_service.proto, every method of
MetadataStoreService) and answers each call with the same call on the local store, which runs
the same C++ MetadataStore the server binary wraps (metadata_store.py _call_method: the
serialized request to the library, or to the gRPC stub), errors with their status code.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent import futures
from contextlib import contextmanager
from typing import Any

import grpc
from ml_metadata import errors, metadata_store
from ml_metadata.proto import metadata_store_service_pb2

SERVICE = metadata_store_service_pb2.DESCRIPTOR.services_by_name["MetadataStoreService"]


@contextmanager
def serve(store: metadata_store.MetadataStore, lock: threading.RLock) -> Iterator[tuple[str, int]]:
    """Serves `store` on 127.0.0.1 (a free port) while the block runs; yields (host, port)."""
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    server.add_generic_rpc_handlers([grpc.method_handlers_generic_handler(SERVICE.full_name, _handlers(store, lock))])
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        yield "127.0.0.1", port
    finally:
        server.stop(grace=None)


def _handlers(store: metadata_store.MetadataStore, lock: threading.RLock) -> dict[str, grpc.RpcMethodHandler]:
    handlers = {}
    for method in SERVICE.methods:
        request_class = getattr(metadata_store_service_pb2, method.input_type.name)
        response_class = getattr(metadata_store_service_pb2, method.output_type.name)
        handlers[method.name] = grpc.unary_unary_rpc_method_handler(
            _answer(store, lock, method.name, response_class),
            request_deserializer=request_class.FromString,
            response_serializer=response_class.SerializeToString,
        )
    return handlers


def _answer(store: metadata_store.MetadataStore, lock: threading.RLock, name: str, response_class: Any) -> Any:
    def answer(request: Any, context: grpc.ServicerContext) -> Any:
        response = response_class()
        try:
            with lock:
                store._call(name, request, response)  # the library call the server binary makes
        except errors.StatusError as error:
            context.abort(_status_code(error.error_code), str(error))
        return response

    return answer


def _status_code(code: int) -> grpc.StatusCode:
    """MLMD's error codes are gRPC's (ml_metadata/errors.py)."""
    return next((status for status in grpc.StatusCode if status.value[0] == code), grpc.StatusCode.UNKNOWN)
