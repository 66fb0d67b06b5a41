"""Custom Rasa NLU components of LPSE Assist (normalising tokenizer, sentence-encoder featurizer).

config.yml names them by module path, e.g. `lpse_assist.nlu.tokenizer.NormalizingTokenizer`.
"""
