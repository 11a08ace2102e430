from .story import Entity, ExtractionResult, FinanceMention, Story  # noqa: F401
