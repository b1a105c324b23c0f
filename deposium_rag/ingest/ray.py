"""Ray Data ingestion into Milvus, for corpora that outgrow one process.

Why this shape: reading and chunking are per file (Ray tasks, ``flat_map``); detection, embedding
and the write are per batch in a pool of actors, each holding one model and one Milvus
connection. Each actor indexes its batch through a :class:`~deposium_rag.LanguageRouter` over
the same :class:`~deposium_rag.backends.MilvusBackend`, so a document gets exactly the language,
vector, lexical terms and id that a single-process ``router.add`` gives it (tested).

The target must be a Milvus *server* URI (``http://host:19530``, a cluster or
``milvus-lite server``): an embedded ``.db`` folder is locked by one process.

Ingestion upserts by chunk id; chunks of a file that shrank are not removed (re-index such
files with ``deposium-rag index``).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from deposium_rag.errors import missing_extra

__all__ = ["ingest_folder_ray"]


def _ray() -> Any:
    try:
        import ray
        import ray.data
    except ImportError:
        raise missing_extra("ray[data]", "ray") from None
    return ray


def _reader() -> tuple[Any, Any]:
    """(list of files, chunks of one file): the ingest package's steps, else the CLI's."""
    try:
        from deposium_rag.ingest import iter_files, read_chunks  # type: ignore[attr-defined]

        def files(paths: Sequence[str]) -> list[str]:
            return [str(p) for p in iter_files(list(paths))]

        def chunks(path: str, size: int, overlap: int) -> list[tuple[str, str, dict[str, Any]]]:
            return [(c.id, c.text, c.metadata) for c in read_chunks(path, size, overlap)]

    except ImportError:
        from deposium_rag import cli

        def files(paths: Sequence[str]) -> list[str]:
            return [f"{int(explicit)}{p}" for p, explicit in cli.collect_files(list(paths))]

        def chunks(path: str, size: int, overlap: int) -> list[tuple[str, str, dict[str, Any]]]:
            docs, _ = cli.read_documents(Path(path[1:]), path[0] == "1")
            return [(c.id, c.text, c.metadata) for c in cli.make_chunks(docs, size, overlap)]

    return files, chunks


def _check_uri(uri: str) -> None:
    if not uri.startswith(("http://", "https://", "tcp://", "grpc://")):
        raise ValueError(
            f"Ray ingestion needs a Milvus server URI (http://host:19530), got {uri!r}: an embedded "
            "milvus-lite folder is locked by one process. Start one with "
            "`milvus-lite server --data-dir DIR --port 19530` and pass http://127.0.0.1:19530"
        )


class _Indexer:
    """One Ray actor: a model and a router over the Milvus collection; indexes one batch per call."""

    def __init__(self, uri: str, collection: str, token: str | None, model: str, options: dict[str, Any]):
        from deposium_rag.backends.milvus import MilvusBackend
        from deposium_rag.models import StaticEmbedder
        from deposium_rag.retrievers import LanguageRouter

        backend = MilvusBackend(uri, collection, token=token)
        self.router = LanguageRouter(StaticEmbedder(model), backend=backend, **options)

    def __call__(self, batch: dict[str, Any]) -> dict[str, Any]:
        ids = [str(x) for x in batch["id"]]
        metas = [json.loads(m) for m in batch["metadata"]]
        self.router.add([str(t) for t in batch["text"]], metas, ids)
        return {"id": ids}


def ingest_folder_ray(
    paths: str | Path | Sequence[str | Path],
    uri: str,
    collection: str = "deposium_rag",
    *,
    model: str = "bundled",
    token: str | None = None,
    num_cpus: int | None = None,
    workers: int | None = None,
    batch_size: int = 256,
    chunk_size: int = 1000,
    chunk_overlap: int = 100,
    **router_options: Any,
) -> dict[str, Any]:
    """Read, chunk, detect, embed and write ``paths`` into a Milvus collection with Ray Data.

    Starts Ray with ``num_cpus`` if it is not running (and shuts it down after); ``workers``
    embedding actors (default: Ray's CPUs minus one for reading, at most 8). Returns a summary:
    files, chunks and documents per language in the collection.
    """
    _check_uri(uri)
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    if chunk_size < 1 or not 0 <= chunk_overlap < chunk_size:
        raise ValueError("chunk_size must be >= 1 and 0 <= chunk_overlap < chunk_size")
    ray = _ray()
    from deposium_rag.backends.milvus import MilvusBackend
    from deposium_rag.models import StaticEmbedder
    from deposium_rag.retrievers import LanguageRouter

    list_files, read = _reader()
    roots = [str(paths)] if isinstance(paths, (str, Path)) else [str(p) for p in paths]
    files = list_files(roots)
    # Create (or check) the collection once, before any worker writes: a model mismatch fails here.
    backend = MilvusBackend(uri, collection, token=token)
    driver = LanguageRouter(StaticEmbedder(model), backend=backend, **router_options)
    started = not ray.is_initialized()
    if started:
        ray.init(num_cpus=num_cpus, include_dashboard=False, log_to_driver=False)
    try:
        # Leave a CPU to the read tasks: actors holding every CPU would starve them (a deadlock).
        cpus = int(ray.available_resources().get("CPU", 1))
        n_workers = workers or max(1, min(8, cpus - 1))

        def to_chunks(row: dict[str, Any]) -> list[dict[str, Any]]:
            return [
                {"id": cid, "text": text, "metadata": json.dumps(meta)}
                for cid, text, meta in read(row["path"], chunk_size, chunk_overlap)
            ]

        ds = ray.data.from_items([{"path": f} for f in files]).flat_map(to_chunks, num_cpus=0.5)
        written = ds.map_batches(
            _Indexer,
            fn_constructor_kwargs={
                "uri": uri,
                "collection": collection,
                "token": token,
                "model": model,
                "options": router_options,
            },
            batch_size=batch_size,
            batch_format="default",
            concurrency=n_workers,
        )
        n_chunks = written.count()
    finally:
        if started:
            ray.shutdown()
    backend.refresh()
    summary = {"files": len(files), "chunks": n_chunks, "languages": driver.counts()}
    backend.close()
    return summary
