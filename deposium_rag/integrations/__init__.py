"""Framework faces: thin translations from LangChain / LlamaIndex types to the core.

Import ``deposium_rag.integrations.langchain`` or ``deposium_rag.integrations.llamaindex``
directly; this package imports neither framework.
"""
