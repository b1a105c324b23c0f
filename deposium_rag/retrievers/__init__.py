"""Retrievers: the language-routing retriever core (framework faces live in integrations)."""

from deposium_rag.retrievers.router import Encoder, LanguageRouter, Route, RoutedResult

__all__ = ["Encoder", "LanguageRouter", "Route", "RoutedResult"]
