from .story import Entity, ExtractionResult, FinanceMention, Story

__all__ = ["Entity", "ExtractionResult", "FinanceMention", "Story"]
