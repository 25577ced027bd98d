"""A text file written for a test: the corpora, question and similarity files that the word2vec,
vocabulary and KeyedVectors tests read back through fastnlp."""


def write_file(path, text, mode="w"):
    """Writes text to path (mode "w" or "wb" for bytes) and returns the path as a str."""
    with open(path, mode) as f:
        f.write(text)
    return str(path)
