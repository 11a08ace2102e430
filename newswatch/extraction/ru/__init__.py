"""Russian-language stories: natasha's models (tokens, morphology, syntax, NER), pymorphy3 lemmas, the Russian
gazetteer and the Russian money grammar. The same facts, fields and ids as English."""
