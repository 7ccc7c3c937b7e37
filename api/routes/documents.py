"""Upload, list, show and delete documents; follow an upload's ingestion job."""

from __future__ import annotations

import asyncio
from datetime import datetime

from fastapi import APIRouter, Request

from api.deps import AdminCaller, ServicesDep, ViewerCaller
from api.schemas import (
    ChunkOut,
    DeletedDocument,
    DocumentDetail,
    DocumentList,
    DocumentOut,
    JobOut,
    UploadedJob,
    UploadResponse,
)
from api.uploads import FIELD, receive_files
from ingest.jobs import Upload
from rag.storage.documents import DocumentRecord

router = APIRouter(tags=["documents"])

_UPLOAD_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": [FIELD],
                    "properties": {
                        FIELD: {"type": "array", "items": {"type": "string", "format": "binary"}}
                    },
                }
            }
        },
    }
}


def _document(record: DocumentRecord) -> DocumentOut:
    return DocumentOut.model_validate(record, from_attributes=True)


@router.post(
    "/v1/documents",
    status_code=202,
    summary="Upload files (multipart field `files`, repeatable); each becomes a job",
    openapi_extra=_UPLOAD_BODY,
)
async def upload_documents(
    request: Request, caller: AdminCaller, services: ServicesDep
) -> UploadResponse:
    settings = services.settings
    received = await receive_files(
        request,
        services.jobs.new_upload_path,
        settings.max_upload_bytes,
        settings.max_files_per_upload,
    )
    results = await services.jobs.accept(
        [Upload(f.filename, f.path, f.declared_type, f.error) for f in received], caller.owner
    )
    refused = [error for _, error in results if error is not None]
    if len(refused) == len(results):
        # Nothing was queued: the request as a whole fails, with the first file's reason.
        raise refused[0]
    return UploadResponse(
        jobs=[
            UploadedJob(id=job.job_id, filename=job.filename, status=job.status, error=job.error)
            for job, _ in results
        ]
    )


@router.get("/v1/jobs/{job_id}", summary="An upload job's status")
async def get_job(job_id: str, caller: ViewerCaller, services: ServicesDep) -> JobOut:
    job = await asyncio.to_thread(services.jobs.get, job_id, caller.owner)
    return JobOut(
        id=job.job_id,
        filename=job.filename,
        status=job.status,
        document_id=job.document_id,
        error=job.error,
        created_at=datetime.fromisoformat(job.created_at),
        updated_at=datetime.fromisoformat(job.updated_at),
    )


@router.get("/v1/documents", summary="Every document and the corpus version")
async def list_documents(caller: ViewerCaller, services: ServicesDep) -> DocumentList:
    records = await asyncio.to_thread(services.registry.documents)
    version = await asyncio.to_thread(services.registry.corpus_version)
    return DocumentList(documents=[_document(r) for r in records], corpus_version=version)


@router.get("/v1/documents/{document_id}", summary="A document and its chunks")
async def get_document(
    document_id: str, caller: ViewerCaller, services: ServicesDep
) -> DocumentDetail:
    record, chunks = await asyncio.to_thread(services.pipeline.document, document_id)
    return DocumentDetail(
        **_document(record).model_dump(),
        chunks=[
            ChunkOut(
                chunk_id=c.chunk_id,
                position=c.position,
                heading_path=list(c.heading_path),
                page=c.page,
                char_start=c.char_start,
                char_end=c.char_end,
                text=c.text,
            )
            for c in chunks
        ],
    )


@router.delete("/v1/documents/{document_id}", summary="Delete a document and all its chunks")
async def delete_document(
    document_id: str, caller: AdminCaller, services: ServicesDep
) -> DeletedDocument:
    removed = await asyncio.to_thread(services.pipeline.delete_document, document_id)
    return DeletedDocument(document_id=document_id, deleted_chunks=removed)
